--TEST--
User code that PHP runs while a hook is in the original (an error handler for its warning, a __toString of an argument, a fiber suspended there) is judged like any other code: a plugin cannot write past the policy from there
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/user_code_in_hook/root
pressfs.mount={TMP}/pressfs-phpt/user_code_in_hook/mount
pressfs.audit_log={TMP}/pressfs-phpt/user_code_in_hook/audit.log
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('user_code_in_hook');
$evil = "$b/root/wp-content/plugins/foo";
$n = 0;
set_error_handler(function ($no, $str) use ($evil, &$n) {
    $n++;
    $r = @file_put_contents("$evil/evil$n.php", '<?php // pwned');
    echo "handler $n (", preg_replace('/\(.*\)/', '(...)', strtok($str, ':')), "): ", var_export($r, true), "\n";
    return true;
});
$u = "$b/root/wp-content/uploads";
// each of these warns from inside PHP's own function, which pressfs is running for the script
chmod("$u/missing.jpg", 0644);                 // a function hook, redirected
touch("$u/nodir/x.jpg");                       // a function hook, redirected
touch("file://$u/nodir/y.jpg");                // the same through the wrapper's metadata
unlink("$u/missing.jpg");                      // a wrapper op, redirected
mkdir("$u/nodir/sub");                         // a wrapper op, redirected
rmdir("$u/nodir");
rename("$u/missing.jpg", "$u/other.jpg");
symlink("$u/a.jpg", "$u/nodir/link.jpg");
tempnam("$u/nodir", 'tmp');                    // notice: falls back to the system temp dir
restore_error_handler();
// an argument's __toString, run by PHP's parameter parsing inside the original
class Prefix { public function __toString(): string {
    var_dump(@file_put_contents($GLOBALS['evil'] . '/evil-tostring.php', 'x'));
    return 'pfx';
} }
$t = tempnam("$b/root/wp-content/cache", new Prefix());
var_dump(str_contains($t, '/wp-content/cache/pfx'));
// a fiber suspended by the handler, inside chmod()'s original: the rest of the script is judged
$f = new Fiber(function () use ($u) {
    set_error_handler(function () { Fiber::suspend(); return true; });
    chmod("$u/missing.jpg", 0644);
    restore_error_handler();
});
$f->start();
var_dump(@file_put_contents("$evil/evil-fiber.php", 'x'), @touch("$evil/evil-fiber-touch.php"));
$f->resume();
var_dump(@file_put_contents("$evil/evil-after.php", 'x'));
echo 'evil files: ', count(glob("$evil/evil*")), "\n";
$denied = array_filter(pfs_audit("$b/audit.log"), fn($r) => $r['outcome'] === 'denied');
echo 'denied in the audit log: ', count($denied), "\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('user_code_in_hook'); ?>
--EXPECTF--
handler 1 (chmod(...)): false
handler 2 (touch(...)): false
handler 3 (touch(...)): false
handler 4 (unlink(...)): false
handler 5 (mkdir(...)): false
handler 6 (rmdir(...)): false
handler 7 (rename(...)): false
handler 8 (symlink(...)): false
handler 9 (tempnam(...)): false
bool(false)
bool(true)
bool(false)
bool(false)
bool(false)
evil files: 0
denied in the audit log: 13
