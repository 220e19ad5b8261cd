/* passthrough.c - FUSE passthrough through libfuse 3.14's custom I/O: the INIT and OPEN replies
 * are completed with the protocol 7.40 fields libfuse does not know (see passthrough.h). */
#include "passthrough.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* Protocol 7.40, defined here: Debian 12's <linux/fuse.h> is 7.38. */
#define PT_FUSE_PASSTHROUGH_FLAGS2 (1u << (37 - 32)) /* FUSE_PASSTHROUGH, in flags2 */
#define PT_FOPEN_PASSTHROUGH	   (1u << 7)
struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define PT_DEV_IOC_BACKING_OPEN	 _IOW(229, 1, struct pt_backing_map)
#define PT_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/* 7.40's fuse_init_out: max_stack_depth took the first of 7.38's unused words. */
struct pt_init_out {
	struct fuse_init_out base; /* base.unused[0] is max_stack_depth */
};
/* 7.40's fuse_open_out: padding became backing_id. */
struct pt_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

static int dev_fd = -1;	    /* /dev/fuse of the session: one mount per process */
static bool wanted;	    /* passthrough=auto */
static atomic_bool offered; /* the kernel's INIT asked for FUSE_PASSTHROUGH */
static atomic_bool on;	    /* ...and our reply said yes */
static atomic_ulong opens;

/* What this worker thread last read from the kernel, and what its handler asked for. */
static __thread uint64_t cur_unique;
static __thread uint32_t cur_opcode;
static __thread int cur_backing;

static void note_init(const void *buf, size_t n)
{
	const struct fuse_init_in *in;

	if (n < sizeof(struct fuse_in_header) + offsetof(struct fuse_init_in, flags2) + 4)
		return;
	in = (const void *)((const char *)buf + sizeof(struct fuse_in_header));
	if ((in->flags & FUSE_INIT_EXT) && (in->flags2 & PT_FUSE_PASSTHROUGH_FLAGS2))
		atomic_store(&offered, true);
}

static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n >= (ssize_t)sizeof(struct fuse_in_header)) {
		const struct fuse_in_header *h = buf;

		cur_unique = h->unique;
		cur_opcode = h->opcode;
		if (h->opcode == FUSE_INIT)
			note_init(buf, (size_t)n);
	}
	return n;
}

/* The INIT reply in IOV[1]: say yes to passthrough, with a stack depth. */
static void patch_init(struct iovec *iov, int count, struct pt_init_out *copy)
{
	if (!wanted || !atomic_load(&offered) || count < 2 ||
	    iov[1].iov_len < sizeof(struct fuse_init_out))
		return;
	memcpy(copy, iov[1].iov_base, sizeof(*copy));
	if (!(copy->base.flags & FUSE_INIT_EXT))
		return; /* libfuse did not send flags2: leave the reply as it is */
	copy->base.flags2 |= PT_FUSE_PASSTHROUGH_FLAGS2;
	copy->base.unused[0] = PASSTHROUGH_STACK_DEPTH;
	iov[1].iov_base = copy;
	atomic_store(&on, true);
}

static void patch_open(struct iovec *iov, int count, struct pt_open_out *copy)
{
	if (count < 2 || iov[1].iov_len != sizeof(*copy))
		return;
	memcpy(copy, iov[1].iov_base, sizeof(*copy));
	/* The kernel fails a passthrough open that also asks to keep the page cache (EIO): the
	 * pages are the backing file's, kept by its own file system. */
	copy->open_flags |= PT_FOPEN_PASSTHROUGH;
	copy->open_flags &= ~(uint32_t)(FOPEN_DIRECT_IO | FOPEN_KEEP_CACHE);
	copy->backing_id = cur_backing;
	iov[1].iov_base = copy;
	atomic_fetch_add(&opens, 1);
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct pt_init_out init;
	struct pt_open_out open;
	const struct fuse_out_header *h = iov[0].iov_base;

	(void)userdata;
	if (count >= 1 && iov[0].iov_len >= sizeof(*h) && h->unique == cur_unique && !h->error) {
		if (cur_opcode == FUSE_INIT)
			patch_init(iov, count, &init);
		else if ((cur_opcode == FUSE_OPEN || cur_opcode == FUSE_CREATE) && cur_backing > 0)
			patch_open(iov, count, &open);
	}
	return writev(fd, iov, count);
}

int passthrough_attach(struct fuse_session *se, bool want)
{
	static const struct fuse_custom_io io = {.read = pt_read, .writev = pt_writev};
	int fd = fuse_session_fd(se);

	if (fd < 0)
		return -EBADF;
	wanted = want;
	dev_fd = fd;
	return fuse_session_custom_io(se, &io, fd) ? -EIO : 0;
}

bool passthrough_on(void)
{
	return atomic_load(&on);
}

int passthrough_open_backing(int fd)
{
	struct pt_backing_map map = {.fd = fd};
	int id;

	if (!atomic_load(&on))
		return -ENOTSUP;
	id = ioctl(dev_fd, PT_DEV_IOC_BACKING_OPEN, &map);
	return id > 0 ? id : -errno;
}

void passthrough_close_backing(int id)
{
	uint32_t v = (uint32_t)id;

	if (id > 0)
		ioctl(dev_fd, PT_DEV_IOC_BACKING_CLOSE, &v);
}

int passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi, int id)
{
	int ret;

	cur_backing = id;
	ret = fuse_reply_open(req, fi);
	cur_backing = 0;
	return ret;
}

unsigned long passthrough_opens(void)
{
	return atomic_load(&opens);
}
