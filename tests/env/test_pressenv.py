"""Checks that tests/env/pressenv.py brings up a real WordPress (MariaDB, php-fpm, nginx and
Apache) on loopback and leaves nothing running.  Run: pytest-3 tests/env (root, Debian 12)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import pressenv  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (www-data workers)")


def test_wordpress_on_nginx_and_apache():
    env = pressenv.Env()
    started = []
    try:
        db = env.start(pressenv.MariaDB(env))
        redis = env.start(pressenv.Redis(env))
        mc = env.start(pressenv.Memcached(env))
        assert redis.cli("PING").strip() == "PONG"
        tree = pressenv.wordpress_tree(env.path("wp"))
        pressenv.write_wp_config(tree, db.wp_credentials("wp"))
        fpm = env.start(pressenv.PhpFpm(env, workers=2))
        web = env.start(pressenv.Nginx(env, [pressenv.Site(tree, fpm.address)]))
        apache = env.start(pressenv.Apache(env, [pressenv.Site(tree, fpm.address)]))
        started = [db, redis, mc, fpm, web, apache]
        password = pressenv.install_wordpress(tree, web.url(), posts=3)
        for base in (web.url(), apache.url()):
            status, _, body = pressenv.http_get(base + "/")
            assert status == 200, body[:500]
            assert b"Benchmark post 3" in body
            cookie = pressenv.wordpress_login(base, "admin", password)
            status, _, body = pressenv.http_get(base + "/wp-admin/", headers={"Cookie": cookie})
            assert status == 200 and b"Dashboard" in body
        pids = [s.pid for s in started]
    finally:
        env.close()
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"pid {pid} still running"
    assert not os.path.exists(env.dir)
