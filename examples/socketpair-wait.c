/*
 * Register an open socket to wait for data using streams: the asyncio
 * documentation's wait_for_data() in C.
 *
 * usage: socketpair-wait
 *
 * One end of a socketpair() becomes a reader/writer pair through
 * weft_open_connection_fd() (asyncio's open_connection(sock=...)).  A
 * second fiber, started with weft_spawn() the way the seed uses
 * loop.call_soon(), simulates the network by send()ing "abc" into the
 * other end; the main fiber waits in weft_read() meanwhile.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/weft.h>

/* Runs on its own fiber, after the main fiber has parked in its read. */
static void
send_abc(void *arg)
{
	int wsock = (int)(intptr_t)arg;

	if (send(wsock, "abc", 3, 0) != 3)
		fprintf(stderr, "socketpair-wait: send: %s\n", strerror(errno));
}

static int
wait_for_data(void *arg)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	char data[100];
	ssize_t n;
	int sv[2], rc;

	(void)arg;
	/* Create a pair of connected sockets. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		fprintf(stderr, "socketpair-wait: socketpair: %s\n",
		    strerror(errno));
		return 1;
	}

	/* Register the open socket to wait for data; weft owns sv[0] now. */
	if ((rc = weft_open_connection_fd(sv[0], NULL, &r, &w)) != 0) {
		fprintf(stderr, "socketpair-wait: open_connection_fd: %s\n",
		    weft_strerror(rc));
		close(sv[0]);
		close(sv[1]);
		return 1;
	}

	/* Simulate the reception of data from the network. */
	/* The fd goes by value: no pointer into a parked fiber's stack. */
	if ((rc = weft_spawn(send_abc, (void *)(intptr_t)sv[1], NULL)) != 0) {
		fprintf(stderr, "socketpair-wait: spawn: %s\n",
		    weft_strerror(rc));
		weft_stream_free(w);
		close(sv[1]);
		return 1;
	}

	/* Wait for data. */
	n = weft_read(r, data, sizeof(data));
	if (n < 0) {
		fprintf(stderr, "socketpair-wait: read: %s\n",
		    weft_strerror((int)n));
		weft_stream_free(w);
		close(sv[1]);
		return 1;
	}

	/* Got data, we are done: close the socket. */
	printf("Received: '%.*s'\n", (int)n, data);
	weft_close(w);
	rc = weft_wait_closed(w);
	weft_stream_free(w);

	/* Close the second socket. */
	close(sv[1]);
	return rc != 0 ? 1 : 0;
}

int
main(void)
{
	int rc;

	rc = weft_run(wait_for_data, NULL);
	if (rc < 0) {
		fprintf(stderr, "socketpair-wait: %s\n", weft_strerror(rc));
		return 1;
	}
	return rc;
}
