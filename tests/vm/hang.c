/* Fault injection for the VM test (LD_PRELOAD into driftd under systemd): when
 * /etc/driftd/hang holds this process's PID, the consume loop's next rd_kafka_consumer_poll
 * never returns. Only that thread hangs: librdkafka's threads and the metrics thread go on,
 * which is the case the watchdog is for (a helper thread must not keep it fed). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

struct rd_kafka_s;
struct rd_kafka_message_s;
struct rd_kafka_message_s *rd_kafka_consumer_poll(struct rd_kafka_s *rk, int timeout_ms);

static int hang_requested(void)
{
	FILE *f = fopen("/etc/driftd/hang", "re");
	if (!f)
		return 0;
	long pid = 0;
	int n = fscanf(f, "%ld", &pid);
	fclose(f);
	return n == 1 && pid == (long)getpid();
}

struct rd_kafka_message_s *rd_kafka_consumer_poll(struct rd_kafka_s *rk, int timeout_ms)
{
	struct rd_kafka_message_s *(*real)(struct rd_kafka_s *, int) =
	    (struct rd_kafka_message_s * (*)(struct rd_kafka_s *, int))
	        dlsym(RTLD_NEXT, "rd_kafka_consumer_poll");
	if (hang_requested())
		for (;;)
			pause(); /* signals are blocked (signalfd): only SIGABRT/SIGKILL end this */
	return real(rk, timeout_ms);
}
