// SPDX-License-Identifier: MIT
/*
 * tracefs, mounted detached (see tracefs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/mount.h>
#include <sys/syscall.h>

#include "tracefs.h"
#include "why.h"

int tracefs_mount(char *why, size_t why_len)
{
	int fs, mnt, err;

	fs = syscall(SYS_fsopen, "tracefs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return why_fail(-errno, why, why_len, "cannot mount tracefs: %s",
				strerror(errno));
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		err = -errno;
		close(fs);
		return why_fail(err, why, why_len, "cannot mount tracefs: %s", strerror(-err));
	}
	mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	err = -errno;
	close(fs);
	if (mnt < 0)
		return why_fail(err, why, why_len, "cannot mount tracefs: %s", strerror(-err));
	return mnt;
}

int tracefs_event_id(int tracefs, const char *system, const char *name)
{
	char path[160], buf[32] = "";
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "events/%s/%s/id", system, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = openat(tracefs, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return atoi(buf) > 0 ? atoi(buf) : -EIO;
}
