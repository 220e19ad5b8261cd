/* admin.h - the admin commands of the pressfs program; each takes its own argv (argv[0] is
 * the command's name) and returns the process's exit status. */
#ifndef PRESSFS_ADMIN_H
#define PRESSFS_ADMIN_H

int status_main(int argc, char **argv);	      /* pressfs status [--json] MOUNTPOINT */
int audit_main(int argc, char **argv);	      /* pressfs audit LOG [--policy FILE] */
int policy_check_main(int argc, char **argv); /* pressfs policy check POLICY [PATH...] */
int compat_main(int argc, char **argv);	      /* pressfs compat --wordpress DIR ... */

/* The operator's commands that work on a site's store without a mount; each is a main()
 * too. */
int import_main(int argc, char **argv);
int export_main(int argc, char **argv);
int dump_main(int argc, char **argv);
int load_main(int argc, char **argv);
int fsck_main(int argc, char **argv);
int info_main(int argc, char **argv);

#endif
