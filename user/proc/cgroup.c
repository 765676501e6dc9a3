// SPDX-License-Identifier: MIT
/* --cgroup PATH (see cgroup.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cgroup.h"
#include "util/vec.h"
#include "util/why.h"

#define CGROUP2_SUPER_MAGIC 0x63677270
#define CGROUP_SUPER_MAGIC 0x27e0eb

void cgroup_v2_mount(const char *mountinfo, char *buf, size_t len)
{
	const char *line = mountinfo;

	buf[0] = '\0';
	/* "36 25 0:31 / /sys/fs/cgroup/unified rw,... shared:9 - cgroup2 cgroup2 rw" */
	while (line && *line) {
		const char *end = strchr(line, '\n'), *sep = strstr(line, " - ");
		char mnt[512], fstype[32];

		if (!end)
			end = line + strlen(line);
		if (sep && sep < end &&
		    sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 &&
		    sscanf(sep + 3, "%31s", fstype) == 1 && !strcmp(fstype, "cgroup2")) {
			snprintf(buf, len, "%s", mnt);
			return;
		}
		line = *end ? end + 1 : NULL;
	}
}

static void v2_mount_here(char *buf, size_t len)
{
	char *text = NULL;
	size_t n = 0, cap = 0;
	ssize_t got;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return;
	for (;;) {
		if (vec_reserve(&text, &cap, n + 4097, 1))
			break;
		got = read(fd, text + n, 4096);
		if (got <= 0)
			break;
		n += got;
	}
	close(fd);
	if (text) {
		text[n] = '\0';
		cgroup_v2_mount(text, buf, len);
	}
	free(text);
}

int cgroup_check(const char *path, uint64_t *id, char *why, size_t why_len)
{
	char mnt[512], where[600];
	struct statfs sfs;
	struct stat st;

	v2_mount_here(mnt, sizeof(mnt));
	if (mnt[0])
		snprintf(where, sizeof(where), "cgroup v2 is mounted at %s here", mnt);
	else
		snprintf(where, sizeof(where), "no cgroup v2 hierarchy is mounted here");
	if (stat(path, &st) || statfs(path, &sfs))
		return why_fail(-errno, why, why_len, "--cgroup '%s': %s (%s)", path,
				strerror(errno), where);
	if (!S_ISDIR(st.st_mode) || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return why_fail(-ENOTDIR, why, why_len, "--cgroup '%s' is not a cgroup v2 "
				"directory%s; %s", path,
				sfs.f_type == CGROUP_SUPER_MAGIC ? " (it is a cgroup v1 one)" : "",
				where);
	*id = st.st_ino;
	return 0;
}

static int add_procs(const char *dir, pid_t **out, size_t *n, size_t *cap, int depth)
{
	char path[4096];
	struct dirent *de;
	long pid;
	FILE *fp;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	while (fscanf(fp, "%ld", &pid) == 1) {
		if (vec_reserve(out, cap, *n + 1, sizeof(**out))) {
			fclose(fp);
			return -ENOMEM;
		}
		(*out)[(*n)++] = (pid_t)pid;
	}
	fclose(fp);
	if (depth > 64 || !(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		add_procs(path, out, n, cap, depth + 1);
	}
	closedir(d);
	return 0;
}

int cgroup_procs(const char *path, pid_t **out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	return add_procs(path, out, n, &cap, 0);
}
