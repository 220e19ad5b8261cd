--TEST--
Bad INI values (an unknown mode, a relative root) keep pressfs disabled, with the setting named at startup
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root=relative/root
pressfs.mode=enforcing
display_startup_errors=1
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$i = pfs_info();
echo $i['pressfs support'], "\n", $i['Disabled because'], "\n";
var_dump(ini_get('pressfs.mode'), ini_get('pressfs.root'));
?>
--EXPECTF--
%Apressfs: not enabled: pressfs.root="relative/root" is not an absolute path; pressfs.mode="enforcing" is not one of enforce, report, off in Unknown on line 0
disabled
pressfs.root="relative/root" is not an absolute path; pressfs.mode="enforcing" is not one of enforce, report, off
string(7) "enforce"
string(0) ""
