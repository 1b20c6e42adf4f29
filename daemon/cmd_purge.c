/* `driftd purge`: dispose of what driftd keeps on disk for a deployment (EN 304 223 5.5.1:
 * secure disposal when a model or the daemon is decommissioned): the state directory's
 * contents and the alert spool, which may hold model inputs quoted in alerts. Files are
 * overwritten with zeros, synced, then unlinked; on copy-on-write or flash storage an overwrite
 * is not a guarantee (docs/operations.md says what to do there). Asks for --yes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"

struct purge_ctx {
	bool dry;
	unsigned long files, dirs, errors;
};

static int wipe_file(const char *path, off_t size)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	static const char zeros[65536];
	int rc = 0;
	for (off_t off = 0; off < size && rc == 0;) {
		size_t n =
		    (size_t)(size - off) < sizeof(zeros) ? (size_t)(size - off) : sizeof(zeros);
		ssize_t w = write(fd, zeros, n);
		if (w < 0)
			rc = errno == EINTR ? 0 : -errno;
		else
			off += w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void report(struct purge_ctx *c, const char *path, int rc)
{
	if (rc < 0) {
		fprintf(stderr, "driftd purge: %s: %s\n", path, strerror(-rc));
		c->errors++;
	}
}

/* Depth first: files are wiped and removed, then their directory. The top directory stays
 * (systemd's StateDirectory= owns it). Symbolic links are removed, never followed. */
static void walk(struct purge_ctx *c, const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			report(c, dir, -errno);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[4096];
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)) {
			report(c, dir, -ENAMETOOLONG);
			continue;
		}
		struct stat st;
		if (lstat(path, &st) < 0) {
			report(c, path, -errno);
			continue;
		}
		if (S_ISDIR(st.st_mode) && depth < 32) {
			walk(c, path, depth + 1);
			fprintf(stderr, "driftd purge: %s %s\n",
			        c->dry ? "would remove" : "removing", path);
			int rc = c->dry || rmdir(path) == 0 ? 0 : -errno;
			report(c, path, rc);
			c->dirs += rc == 0;
			continue;
		}
		fprintf(stderr, "driftd purge: %s %s\n", c->dry ? "would remove" : "removing",
		        path);
		if (c->dry) {
			c->files++;
			continue;
		}
		int rc = S_ISREG(st.st_mode) ? wipe_file(path, st.st_size) : 0;
		if (rc == 0 && unlink(path) < 0)
			rc = -errno;
		report(c, path, rc);
		c->files += rc == 0;
	}
	closedir(d);
}

int dd_cmd_purge(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"yes", no_argument, NULL, 'y'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL;
	bool yes = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:yh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'y':
			yes = true;
			break;
		case 'h':
			puts("Usage: driftd purge -c FILE [--yes]\n"
			     "\n"
			     "Dispose of the state directory's contents (state.dir) and the alert "
			     "spool\n"
			     "(alerts.spool_dir) of the configuration, when a model or the daemon "
			     "is\n"
			     "decommissioned: files are overwritten with zeros, synced and "
			     "removed. Without\n"
			     "--yes, only lists what would be removed. Stop the service first.");
			return DD_EXIT_OK;
		default:
			return DD_EXIT_USAGE;
		}
	}
	if (!config) {
		fprintf(stderr, "Usage: driftd purge -c FILE [--yes]\n");
		return DD_EXIT_USAGE;
	}
	struct dd_config *conf = NULL;
	if (dd_config_load(config, DD_CONFIG_SKIP_BASELINES, stderr, &conf) < 0)
		return DD_EXIT_FAIL;
	struct purge_ctx pc = {.dry = !yes};
	walk(&pc, conf->state_dir, 0);
	/* The spool usually lives under the state directory; purge it too when it does not. */
	size_t sl = strlen(conf->state_dir);
	if (conf->spool_dir &&
	    !(strncmp(conf->spool_dir, conf->state_dir, sl) == 0 && conf->spool_dir[sl] == '/'))
		walk(&pc, conf->spool_dir, 0);
	fprintf(stderr, "driftd purge: %s %lu files and %lu directories%s\n",
	        pc.dry ? "would remove" : "removed", pc.files, pc.dirs,
	        pc.dry ? " (run again with --yes)" : "");
	dd_config_free(conf);
	return pc.errors ? DD_EXIT_FAIL : DD_EXIT_OK;
}
