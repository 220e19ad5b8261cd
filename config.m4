dnl config.m4 - phpize build of pressfs.so, the PHP extension (ext/), which compiles the shared
dnl policy and path code of core/ into itself.  Configure it out of tree: see the Makefile's ext rule.

PHP_ARG_ENABLE([pressfs],
  [whether to enable pressfs],
  [AS_HELP_STRING([--enable-pressfs], [Enable pressfs, the WordPress write policy for PHP])],
  [no])

if test "$PHP_PRESSFS" != "no"; then
  AC_DEFINE(HAVE_PRESSFS, 1, [Whether pressfs is enabled])
  PHP_NEW_EXTENSION(pressfs,
    ext/pressfs.c ext/wrapper.c ext/functions.c ext/route.c ext/record.c ext/include.c ext/writers.c core/policy.c core/policy_parse.c core/path.c,
    $ext_shared,,
    [-std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 -Wno-unused-parameter -I@ext_srcdir@/core -I@ext_srcdir@/ext])
  PHP_ADD_BUILD_DIR($ext_builddir/ext, 1)
  PHP_ADD_BUILD_DIR($ext_builddir/core, 1)
fi
