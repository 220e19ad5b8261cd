--TEST--
is_writable()/is_writeable() answer false where the policy refuses writes, so WordPress falls back cleanly
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/is_writable/root
pressfs.mount={TMP}/pressfs-phpt/is_writable/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('is_writable');
pfs_put("$b/root/.htaccess", "# rules");
pfs_put("$b/mount/.htaccess", "# rules");
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php");
foreach (['/wp-config.php', '/wp-content/plugins/foo/foo.php', '/wp-content/plugins/foo', '/wp-content/themes/bar',
          '/wp-includes/version.php', '/wp-content', '/.htaccess', '/wp-content/uploads', '/wp-content/uploads/none.jpg'] as $p) {
    printf("%-33s %s %s\n", $p, var_export(is_writable("$b/root$p"), true), var_export(is_writeable("$b/root$p"), true));
}
// got_mod_rewrite/save_mod_rewrite_rules(): a refused .htaccess means "show the rules to copy"
var_dump(is_writable("$b/root/wp-content/uploads/x.php"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('is_writable'); ?>
--EXPECT--
/wp-config.php                    false false
/wp-content/plugins/foo/foo.php   false false
/wp-content/plugins/foo           false false
/wp-content/themes/bar            false false
/wp-includes/version.php          false false
/wp-content                       true true
/.htaccess                        true true
/wp-content/uploads               true true
/wp-content/uploads/none.jpg      false false
bool(false)
