--TEST--
is_writable() of a directory says what the overlay says: true where the policy lets some name be created in it (/ for .htaccess, wp-content for a rule below it), false where nothing below it can ever be written
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/is_writable_dirs/root
pressfs.mount={TMP}/pressfs-phpt/is_writable_dirs/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('is_writable_dirs');
// the lower tree: a directory and a file of every class, and the mount as the overlay shows it
foreach (['/wp-content/uploads/2026', '/wp-content/uploads/x.php', '/wp-content/cache/page',
          '/wp-content/upgrade/tmp', '/wp-content/plugins/foo/inc', '/wp-content/languages',
          '/wp-admin/css'] as $d) {
    pfs_sh('mkdir -p ' . escapeshellarg("$b/root$d") . ' ' . escapeshellarg("$b/mount$d"));
}
foreach (['/wp-content/uploads/a.jpg', '/wp-content/cache/page/index.html',
          '/wp-content/upgrade/tmp/a.zip', '/wp-content/plugins/foo/foo.php', '/wp-admin/css/a.css',
          '/wp-content/index.php', '/index.php', '/.htaccess'] as $f) {
    pfs_put("$b/root$f", 'x');
    pfs_put("$b/mount$f", 'x');
}
pfs_sh('mkdir -p ' . escapeshellarg("$b/mount/wp-includes"));
pfs_sh('ln -s wp-content/uploads ' . escapeshellarg("$b/root/media"));
pfs_sh('ln -s wp-content/plugins ' . escapeshellarg("$b/root/wp-content/uploads/plugins-link"));
$rows = [
    // directories
    '/'                            => 'dir, .htaccess (shared) may be created in it',
    '/wp-content'                  => 'dir, none, rules below it',
    '/wp-content/uploads'          => 'dir, shared',
    '/wp-content/uploads/2026'     => 'dir, shared',
    '/wp-content/uploads/x.php'    => 'dir named like code, deny, inside a shared tree',
    '/wp-content/cache/page'       => 'dir, cache',
    '/wp-content/upgrade/tmp'      => 'dir, local',
    '/wp-content/plugins'          => 'dir, deny',
    '/wp-content/plugins/foo/inc'  => 'dir, deny',
    '/wp-content/languages'        => 'dir, none, nothing below',
    '/wp-includes'                 => 'dir, none',
    '/wp-admin/css'                => 'dir, none',
    '/media'                       => 'symlink to a shared dir, its names are refused',
    '/wp-content/uploads/plugins-link' => 'symlink in shared to a deny dir',
    // files
    '/.htaccess'                   => 'file, shared',
    '/wp-content/uploads/a.jpg'    => 'file, shared',
    '/wp-content/cache/page/index.html' => 'file, cache',
    '/wp-content/upgrade/tmp/a.zip' => 'file, local',
    '/wp-content/plugins/foo/foo.php' => 'file, deny',
    '/wp-config.php'               => 'file, deny',
    '/wp-content/index.php'        => 'file, none',
    '/wp-admin/css/a.css'          => 'file, none',
    '/index.php'                   => 'file, none',
    '/wp-content/uploads/none.jpg' => 'missing, shared',
];
foreach ($rows as $p => $what) {
    $f = "$b/root$p";
    printf("%-34s %-5s %-5s %-5s  %s\n", $p, var_export(is_writable($f), true),
           var_export(is_writeable($f), true), var_export((new SplFileInfo($f))->isWritable(), true), $what);
}
// a write in a directory is_writable() calls writable is one the policy lets happen
var_dump(file_put_contents("$b/root/wp-content/wp-cache-config.php.none", 'x'));
// and one in a directory it calls not writable is refused, symlinked or not
var_dump(@file_put_contents("$b/root/media/x.jpg", 'x'), @file_put_contents("$b/root/wp-includes/x.txt", 'x'));
// in a writable one it happens
var_dump(file_put_contents("$b/root/.htaccess", '# ok'), touch("$b/root/wp-content/cache/page/probe"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('is_writable_dirs'); ?>
--EXPECTF--
/                                  true  true  true   dir, .htaccess (shared) may be created in it
/wp-content                        true  true  true   dir, none, rules below it
/wp-content/uploads                true  true  true   dir, shared
/wp-content/uploads/2026           true  true  true   dir, shared
/wp-content/uploads/x.php          true  true  true   dir named like code, deny, inside a shared tree
/wp-content/cache/page             true  true  true   dir, cache
/wp-content/upgrade/tmp            true  true  true   dir, local
/wp-content/plugins                false false false  dir, deny
/wp-content/plugins/foo/inc        false false false  dir, deny
/wp-content/languages              false false false  dir, none, nothing below
/wp-includes                       false false false  dir, none
/wp-admin/css                      false false false  dir, none
/media                             false false false  symlink to a shared dir, its names are refused
/wp-content/uploads/plugins-link   false false false  symlink in shared to a deny dir
/.htaccess                         true  true  true   file, shared
/wp-content/uploads/a.jpg          true  true  true   file, shared
/wp-content/cache/page/index.html  true  true  true   file, cache
/wp-content/upgrade/tmp/a.zip      true  true  true   file, local
/wp-content/plugins/foo/foo.php    false false false  file, deny
/wp-config.php                     false false false  file, deny
/wp-content/index.php              false false false  file, none
/wp-admin/css/a.css                false false false  file, none
/index.php                         false false false  file, none
/wp-content/uploads/none.jpg       false false false  missing, shared

Warning: file_put_contents(%s/root/wp-content/wp-cache-config.php.none): Failed to open stream: pressfs: write to /wp-content/wp-cache-config.php.none refused: no rule %s
bool(false)
bool(false)
bool(false)
int(4)
bool(true)
