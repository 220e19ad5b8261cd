--TEST--
Writers outside the stream layer: posix_mkfifo, imagegd, imagegd2, ZipArchive::open, SQLite3, PDO's sqlite DSN, ini_set of error_log and session.save_path are judged by the policy
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--EXTENSIONS--
gd
zip
sqlite3
pdo
pdo_sqlite
posix
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/writers/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('writers');
$foo = "$b/root/wp-content/plugins/foo";
$up = "$b/root/wp-content/uploads";
$ex = function (string $label, callable $f) {
    try {
        $r = $f();
        echo "$label: ", pfs_show($r), "\n";
    } catch (Exception $e) {
        echo "$label: ", get_class($e), preg_match('/refused by \S+ line (\d+)/', $e->getMessage(), $m) ? " [refused by line $m[1]]" : ' ' . $e->getMessage(), "\n";
    }
};
pfs_try('mkfifo plugin', fn() => posix_mkfifo("$foo/fifo", 0600));
pfs_try('mkfifo upload', fn() => posix_mkfifo("$up/fifo", 0600));
var_dump(file_exists("$foo/fifo"), filetype("$up/fifo"));
$im = imagecreatetruecolor(2, 2);
pfs_try('imagegd plugin', fn() => imagegd($im, "$foo/x.gd"));
pfs_try('imagegd2 plugin', fn() => imagegd2($im, "$foo/x.gd2"));
pfs_try('imagegd .php in uploads', fn() => imagegd($im, "$up/x.php"));
var_dump(file_exists("$foo/x.gd"), file_exists("$foo/x.gd2"));

$z = new ZipArchive();
pfs_try('zip create plugin', fn() => $z->open("$foo/x.zip", ZipArchive::CREATE));
pfs_try('zip create .php', fn() => $z->open("$up/a.php", ZipArchive::CREATE | ZipArchive::OVERWRITE));
pfs_try('zip create upload', fn() => $z->open("$up/a.zip", ZipArchive::CREATE));
var_dump($z->addFromString('a.txt', 'a'), $z->close(), file_exists("$foo/x.zip"), file_exists("$up/a.php"));
pfs_sh("cp $up/a.zip $foo/bundled.zip");
pfs_try('zip modify bundled', fn() => $z->open("$foo/bundled.zip"));
pfs_try('zip read bundled', fn() => $z->open("$foo/bundled.zip", ZipArchive::RDONLY));
var_dump($z->getFromName('a.txt'), $z->close());

$ex('sqlite3 plugin', fn() => new SQLite3("$foo/x.sqlite"));
$ex('sqlite3 open .php', function () use ($up) { $d = new SQLite3(':memory:'); $d->open("$up/db.php"); return true; });
$ex('sqlite3 upload', function () use ($up) { $d = new SQLite3("$up/x.sqlite"); return $d->exec('CREATE TABLE t(a)'); });
pfs_sh("cp $up/x.sqlite $foo/bundled.sqlite");
$ex('sqlite3 read bundled', function () use ($foo) { $d = new SQLite3("$foo/bundled.sqlite", SQLITE3_OPEN_READONLY); return $d->querySingle('SELECT count(*) FROM t'); });
$ex('sqlite3 file: URI', fn() => new SQLite3("file:$foo/u.sqlite?mode=rwc", SQLITE3_OPEN_READWRITE | SQLITE3_OPEN_CREATE));
$ex('pdo plugin', fn() => new PDO("sqlite:$foo/p.sqlite"));
$ex('pdo upload', fn() => (new PDO("sqlite:$up/p.sqlite"))->exec('CREATE TABLE t(a)'));
$ex('pdo memory', fn() => (new PDO('sqlite::memory:'))->exec('CREATE TABLE t(a)'));
var_dump(file_exists("$foo/x.sqlite"), file_exists("$up/db.php"), file_exists("$foo/u.sqlite"), file_exists("$foo/p.sqlite"));

pfs_try('error_log plugin', fn() => ini_set('error_log', "$foo/log.php"));
pfs_try('error_log .php in uploads', fn() => ini_set('error_log', "$up/log.php"));
pfs_try('error_log upload', fn() => ini_set('error_log', "$up/php.log"));
pfs_try('error_log syslog', fn() => ini_set('error_log', 'syslog'));
pfs_try('save_path plugin', fn() => ini_set('session.save_path', $foo));
pfs_try('save_path N;MODE;plugin', fn() => ini_set('session.save_path', "2;0600;$foo"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('writers'); ?>
--EXPECT--
mkfifo plugin: false [refused by line 7, WordPress core]
mkfifo upload: true
bool(false)
string(4) "fifo"
imagegd plugin: false [refused by line 7, WordPress core]
imagegd2 plugin: false [refused by line 7, WordPress core]
imagegd .php in uploads: false [refused by line 2, WordPress core]
bool(false)
bool(false)
zip create plugin: false [refused by line 7, WordPress core]
zip create .php: false [refused by line 2, WordPress core]
zip create upload: true
bool(true)
bool(true)
bool(false)
bool(false)
zip modify bundled: false [refused by line 7, WordPress core]
zip read bundled: true
string(1) "a"
bool(true)
sqlite3 plugin: Exception [refused by line 7]
sqlite3 open .php: Exception [refused by line 2]
sqlite3 upload: true
sqlite3 read bundled: 0
sqlite3 file: URI: Exception [refused by line 7]
pdo plugin: PDOException [refused by line 7]
pdo upload: 0
pdo memory: 0
bool(false)
bool(false)
bool(false)
bool(false)
error_log plugin: false [refused by line 7, WordPress core]
error_log .php in uploads: false [refused by line 2, WordPress core]
error_log upload: ''
error_log syslog: '{B}/root/wp-content/uploads/php.log'
save_path plugin: false [refused by line 7, WordPress core]
save_path N;MODE;plugin: false [refused by line 7, WordPress core]
