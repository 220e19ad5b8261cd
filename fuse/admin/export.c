/* export.c - stub */
#include "admin/admin.h"
int export_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 2;
}
int dump_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 2;
}
int load_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 2;
}
