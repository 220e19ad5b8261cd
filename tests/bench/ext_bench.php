<?php
/* ext_bench.php - what pressfs.so costs PHP: the same calls (include, stat, fopen-read,
 * file_put_contents into an allowed path) timed without the extension and with it, side by side.
 * Usage: php ext_bench.php --php=/usr/bin/php8.2 --ext=/path/to/pressfs.so [--n=100000]
 *        [--rounds=3] [--dir=DIR] [--json]
 * --json prints one JSON object on stdout and nothing else (see the end of this file). */

const OPS = ['include', 'stat', 'fopen_read', 'file_exists', 'file_put_contents'];

function arg(array $opts, string $name, ?string $default = null): ?string
{
    return $opts[$name] ?? $default;
}

/* ---- the child: time N calls of each operation ---- */
if (getenv('PRESSFS_BENCH_CHILD')) {
    $n = (int)getenv('PRESSFS_BENCH_N');
    $root = getenv('PRESSFS_BENCH_ROOT');
    $theme = "$root/wp-content/themes/bench";
    $res = [];
    $files = [];
    for ($i = 0; $i < 64; $i++) {
        $files[] = "$theme/parts/part-$i.html";
    }
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        include "$theme/inc/tiny.php";
    }
    $res['include'] = hrtime(true) - $t;
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        // distinct names, as a page view stats many files (PHP caches only the last one)
        stat($files[$i & 63]);
    }
    $res['stat'] = hrtime(true) - $t;
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $f = fopen($files[$i & 63], 'rb');
        fread($f, 64);
        fclose($f);
    }
    $res['fopen_read'] = hrtime(true) - $t;
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        file_exists($files[$i & 63]);
    }
    $res['file_exists'] = hrtime(true) - $t;
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        file_put_contents("$root/wp-content/uploads/bench-" . ($i & 63) . '.txt', 'x');
    }
    $res['file_put_contents'] = hrtime(true) - $t;
    echo json_encode($res), "\n";
    exit(0);
}

/* ---- the parent: build a tree, run each configuration, print ---- */
$opts = getopt('', ['php:', 'ext:', 'n:', 'json', 'rounds:', 'dir:']);
$php = arg($opts, 'php', PHP_BINARY);
$ext = arg($opts, 'ext');
$n = (int)arg($opts, 'n', '100000');
$rounds = (int)arg($opts, 'rounds', '3');
/* tmpfs by default: on ext4, rewriting a file with O_TRUNC flushes it at close (auto_da_alloc),
 * 0.25 ms a call, and that noise would drown what the extension adds to file_put_contents */
$dir = arg($opts, 'dir', is_dir('/dev/shm') && is_writable('/dev/shm') ? '/dev/shm' : sys_get_temp_dir());
if (!$ext || !is_file($ext) || $n < 1 || $rounds < 1) {
    fwrite(STDERR, "usage: php ext_bench.php --php=PHP --ext=pressfs.so [--n=100000] [--rounds=3] [--dir=DIR] [--json]\n");
    exit(2);
}
$policy = realpath(__DIR__ . '/../../policies/wordpress.policy');
$base = "$dir/pressfs-ext-bench-" . getmypid();
foreach (['root', 'lower', 'mount'] as $tree) {
    @mkdir("$base/$tree/wp-content/themes/bench/parts", 0777, true);
    @mkdir("$base/$tree/wp-content/themes/bench/inc", 0777, true);
    @mkdir("$base/$tree/wp-content/uploads", 0777, true);
    for ($i = 0; $i < 64; $i++) {
        file_put_contents("$base/$tree/wp-content/themes/bench/parts/part-$i.html", str_repeat("<p>part $i</p>\n", 20));
    }
    file_put_contents("$base/$tree/wp-content/themes/bench/inc/tiny.php", "<?php \$x = 1;\n");
}

$load = ['-d', "extension=$ext", '-d', "pressfs.policy=$policy", '-d', "pressfs.root=$base/root"];
$configs = [
    'no extension' => [],
    'pressfs' => $load,
    'pressfs + lower' => array_merge($load, ['-d', "pressfs.lower=$base/lower"]),
    'pressfs + mount' => array_merge($load, ['-d', "pressfs.mount=$base/mount"]),
];

/* rounds interleave the configurations, so that a slow moment of the machine hits them alike */
$results = [];
for ($r = 0; $r < $rounds; $r++) {
    foreach ($configs as $name => $args) {
        $best = $results[$name] ?? [];
        $cmd = array_merge([$php, '-n'], $args, [__FILE__]);
        $env = ['PRESSFS_BENCH_CHILD' => '1', 'PRESSFS_BENCH_N' => (string)$n, 'PRESSFS_BENCH_ROOT' => "$base/root",
                'PATH' => getenv('PATH') ?: '/usr/bin:/bin'];
        $p = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        $rc = proc_close($p);
        $row = json_decode(trim($out), true);
        if ($rc !== 0 || !is_array($row)) {
            fwrite(STDERR, "ext_bench: '$name' failed (exit $rc): $err$out\n");
            exit(1);
        }
        foreach ($row as $op => $ns) {
            $best[$op] = min($best[$op] ?? PHP_INT_MAX, $ns);
        }
        $results[$name] = $best;
    }
}
exec('rm -rf ' . escapeshellarg($base));

$rules = count(array_filter(file($policy), fn($l) => preg_match('/^\s*\//', $l)));

/* --json: {"n": calls per operation, "rounds": N, "dir": where the trees were, "policy": FILE,
 *  "rules": N, "ops": [operation, ...], "configs": [configuration, ...],
 *  "ns_per_call": {configuration: {operation: ns, ...}, ...},
 *  "ratio": {configuration: {operation: its ns / the "no extension" ns, ...}, ...}}
 * Configurations: "no extension", "pressfs" (the overlay at the root), "pressfs + lower",
 * "pressfs + mount"; "ratio" has all but "no extension".  ns: the best round, per call. */
if (isset($opts['json'])) {
    $ns = array_map(fn($r) => array_map(fn($t) => round($t / $n, 1), $r), $results);
    $ratio = [];
    foreach ($results as $c => $r) {
        if ($c !== 'no extension') {
            foreach (OPS as $op) {
                $ratio[$c][$op] = round($r[$op] / $results['no extension'][$op], 3);
            }
        }
    }
    echo json_encode(['n' => $n, 'rounds' => $rounds, 'dir' => $dir, 'policy' => $policy,
        'rules' => $rules, 'ops' => OPS, 'configs' => array_keys($results), 'ns_per_call' => $ns,
        'ratio' => $ratio], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
    exit(0);
}

printf("pressfs.so cost: ns per call, best of %d rounds of %d calls in %s (policy: %s, %d rules)\n\n",
    $rounds, $n, $dir, basename($policy), $rules);
$names = array_keys($results);
printf("%-18s", 'call');
foreach ($names as $c) {
    printf(" %16s", $c);
}
echo "\n";
foreach (OPS as $op) {
    printf("%-18s", $op);
    $base_ns = $results['no extension'][$op] / $n;
    foreach ($names as $c) {
        $ns = $results[$c][$op] / $n;
        if ($c === 'no extension') {
            printf(" %16.0f", $ns);
        } else {
            printf(" %8.0f (%+4.0f%%)", $ns, ($ns / $base_ns - 1) * 100);
        }
    }
    echo "\n";
}
echo "\npressfs: the overlay at the root (writes judged, reads untouched); + lower: reads of paths no rule\n",
     "can change served from pressfs.lower; + mount: redirect deployment (writes to uploads go to the mount).\n",
     "Here every tree is on the same local disk: + lower shows the check's cost, not the FUSE round trip it saves.\n";
