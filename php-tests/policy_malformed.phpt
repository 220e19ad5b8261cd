--TEST--
A malformed policy (an unknown class on line 3): pressfs refuses to enable and says why at startup; PHP itself runs on
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/malformed.policy
pressfs.root={TMP}/pressfs-phpt/policy_malformed/root
display_startup_errors=1
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('policy_malformed');
var_dump(file_put_contents("$b/root/wp-content/plugins/foo/x.php", '<?php'));
$i = pfs_info();
echo $i['pressfs support'], "\n", str_replace(__DIR__, '{PWD}', $i['Disabled because']), "\n", $i['Policy rules'], "\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('policy_malformed'); ?>
--EXPECTF--
%Apressfs: not enabled: the policy is not usable: %s/fixtures/malformed.policy:3:%d: %s in Unknown on line 0
int(5)
disabled
the policy is not usable: {PWD}/fixtures/malformed.policy:3:%d: %s
(not loaded)
