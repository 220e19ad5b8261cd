/* admin.h - the operator's commands that work on a site's store without a mount: import,
 * export, dump, load, fsck and info.  Each is a main(): ARGV[0] is the command's name. */
#ifndef PRESSFS_ADMIN_H
#define PRESSFS_ADMIN_H

int import_main(int argc, char **argv);
int export_main(int argc, char **argv);
int dump_main(int argc, char **argv);
int load_main(int argc, char **argv);
int fsck_main(int argc, char **argv);
int info_main(int argc, char **argv);

#endif
