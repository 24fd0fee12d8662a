/*
 * chat: an out-of-tree weftd plugin, a line-based chat room.  Every line
 * a client sends goes to every other client of the same worker as
 * "NAME: line".
 *
 * Each client has a writer fiber fed by a bounded weft_queue: the only
 * fiber that writes to the client's connection.  A sender's handler
 * broadcasts with weft_queue_put_nowait, which never waits, so one client
 * that stops reading cannot stall the room: when its queue is full it is
 * dropped (its connection aborted), and the others go on.
 *
 * Settings (all optional):
 *	queue_max	messages waiting for one client before it is dropped
 *			as too slow (default 256, 1 to 1000000)
 *	linger		seconds a leaving client's writer gets to send what
 *			is queued for it (default 5)
 *
 * Built with nothing but libweft's pkg-config file:
 *
 *	cc $(pkg-config --cflags --libs weft) -shared -fPIC -o chat.so chat.c
 *
 * See README.md beside this file, and "Fiber synchronisation: Event and
 * Queue" in doc/plugins.md.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/stream.h>
#include <weft/sync.h>

/* A message, shared by every queue it is in: one allocation per line. */
struct msg {
	uint32_t refs;
	uint32_t len;
	char data[];
};

struct chat;

/*
 * One client.  Two fibers use it, its handler and its writer fiber, so it
 * is reference counted; it is in the room's list from its welcome until
 * its handler leaves or a broadcaster drops it.
 */
struct client {
	LIST_ENTRY(client) link;
	struct chat *room;
	weft_writer_t *w;   /* held by the writer fiber */
	weft_queue_t *q;    /* struct msg *, for the writer fiber */
	weft_event_t *done; /* set when the writer fiber ends */
	int refs;
	int listed;
	char name[24];
};

struct chat {
	LIST_HEAD(, client) clients;
	size_t queue_max;
	uint64_t linger_ms;
	uint64_t next_id;
	size_t writers;		/* writer fibers alive */
	weft_event_t *idle;	/* set while writers == 0 */
	weft_event_t *stopping; /* set by .stop: no new clients */
};

static struct msg *
msg_new(const char *a, size_t alen, const char *b, size_t blen)
{
	struct msg *m;
	size_t len = alen + blen;
	int nl = blen == 0 || b[blen - 1] != '\n';

	if (len + nl > UINT32_MAX ||
	    (m = malloc(sizeof(*m) + len + nl)) == NULL)
		return NULL;
	m->refs = 1;
	m->len = (uint32_t)(len + nl);
	memcpy(m->data, a, alen);
	memcpy(m->data + alen, b, blen);
	if (nl)
		m->data[len] = '\n';
	return m;
}

static void
msg_unref(struct msg *m)
{
	if (--m->refs == 0)
		free(m);
}

static void
client_unref(struct client *c)
{
	void *item;

	if (--c->refs > 0)
		return;
	/* Both fibers are gone: nothing can put or get any more. */
	while (weft_queue_get_nowait(c->q, &item) == 0)
		msg_unref(item);
	weft_queue_free(c->q);
	weft_event_free(c->done);
	free(c);
}

/* Out of the room: no broadcaster will queue anything for it again. */
static void
client_unlist(struct client *c)
{
	if (c->listed) {
		LIST_REMOVE(c, link);
		c->listed = 0;
	}
}

/*
 * A client whose queue is full is too slow: abort its connection, which
 * wakes its handler's read at once (with an error), and its writer's
 * drain.  Its handler cleans up.
 */
static void
client_drop(struct client *c)
{
	weft_log(WEFT_LOG_INFO, "chat: %s dropped: %zu messages waiting",
	    c->name, weft_queue_len(c->q));
	client_unlist(c);
	weft_queue_close(c->q);
	weft_abort(c->w);
}

/* Queue m for c without ever waiting; 0, or -EAGAIN if c was dropped. */
static int
client_send(struct client *c, struct msg *m)
{
	int rc;

	m->refs++;
	if ((rc = weft_queue_put_nowait(c->q, m)) == 0)
		return 0;
	m->refs--;
	if (rc == -EAGAIN) {
		client_drop(c);
		return -EAGAIN;
	}
	return 0; /* WEFT_ECLOSED: it is leaving anyway */
}

/* To everyone in the room but from (NULL: everyone). */
static void
broadcast(struct chat *room, struct client *from, struct msg *m)
{
	struct client *c, *next;

	/* A drop unlinks c: take next first. */
	for (c = LIST_FIRST(&room->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (c != from)
			client_send(c, m);
	}
}

/* A "* ..." notice to one client or the room; ENOMEM loses it. */
static void
notice(struct chat *room, struct client *to, struct client *from,
    const char *fmt, const char *name)
{
	char text[128];
	struct msg *m;
	int n = snprintf(text, sizeof(text), fmt, name);

	if (n < 0 || (m = msg_new(text, (size_t)n, "", 0)) == NULL)
		return;
	if (to != NULL)
		client_send(to, m);
	else
		broadcast(room, from, m);
	msg_unref(m);
}

/*
 * The writer fiber: the only one that writes to the connection, so
 * messages never interleave.  It may outlive the handler (a cancelled
 * handler does not wait for it): the hold keeps the writer valid, and
 * once the connection is gone writes fail at once and it ends.
 */
static void
client_writer(void *arg)
{
	struct client *c = arg;
	struct chat *room = c->room;
	void *item;
	int ok = 1;

	while (weft_queue_get(c->q, &item) == 0) {
		struct msg *m = item;

		if (ok &&
		    (weft_write(c->w, m->data, m->len) != 0 ||
			weft_drain(c->w) != 0))
			ok = 0; /* gone: keep emptying the queue */
		msg_unref(m);
	}
	/* Closed by the handler, a drop or .stop: the last line is out. */
	if (ok)
		weft_close(c->w);
	weft_writer_release(c->w);
	weft_event_set(c->done);
	client_unref(c);
	if (--room->writers == 0)
		weft_event_set(room->idle);
}

static struct client *
client_new(struct chat *room, weft_writer_t *w)
{
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (weft_queue_new(room->queue_max, &c->q) != 0 ||
	    weft_event_new(&c->done) != 0)
		goto fail;
	c->room = room;
	c->w = weft_writer_hold(w);
	c->refs = 2; /* the handler and the writer fiber */
	snprintf(c->name, sizeof(c->name), "user%llu",
	    (unsigned long long)++room->next_id);
	if (weft_spawn(client_writer, c, NULL) != 0) {
		weft_writer_release(w);
		goto fail;
	}
	if (room->writers++ == 0)
		weft_event_clear(room->idle);
	return c;
fail:
	weft_queue_free(c->q);
	weft_event_free(c->done);
	free(c);
	return NULL;
}

/* "/quit", with or without "\r\n". */
static int
is_quit(weft_slice_t line)
{
	size_t len = line.len;

	while (len > 0 &&
	    (line.base[len - 1] == '\n' || line.base[len - 1] == '\r'))
		len--;
	return len == 5 && memcmp(line.base, "/quit", 5) == 0;
}

/* Read lines until EOF, an error, a drop, "/quit" or .stop. */
static void
client_loop(struct chat *room, struct client *c, weft_reader_t *r)
{
	char prefix[sizeof(c->name) + 2];
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%s: ", c->name);
	weft_slice_t line;
	struct msg *m;
	int rc;

	for (;;) {
		rc = weft_readline(r, &line);
		if (rc == WEFT_ELIMIT) {
			notice(room, c, NULL, "* %s: line too long, dropped",
			    c->name);
			continue;
		}
		if (rc != 0 || line.len == 0 || !c->listed)
			return;
		if (is_quit(line)) {
			notice(room, c, NULL, "* bye, %s", c->name);
			return;
		}
		if ((m = msg_new(prefix, plen, line.base, line.len)) == NULL)
			continue; /* out of memory: this line is lost */
		broadcast(room, c, m);
		msg_unref(m);
	}
}

static void
chat_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	struct chat *room = state;
	struct client *c;

	if (weft_event_is_set(room->stopping)) {
		weft_write(w, "* server going down\n", 20);
		return;
	}
	if ((c = client_new(room, w)) == NULL) {
		weft_write(w, "* out of memory\n", 16);
		return;
	}
	/* The welcome is queued first: nothing can come before it. */
	notice(room, c, NULL, "* welcome, you are %s", c->name);
	notice(room, NULL, c, "* %s joined", c->name);
	LIST_INSERT_HEAD(&room->clients, c, link);
	c->listed = 1;

	client_loop(room, c, r);

	client_unlist(c);
	notice(room, NULL, c, "* %s left", c->name);
	weft_queue_close(c->q);
	/*
	 * Give the writer fiber linger_ms to send what is queued (a "bye"),
	 * nested inside whatever deadline this fiber has; then cut it off.
	 * A cancelled handler skips this, and the writer ends on its own
	 * once the connection is gone.
	 */
	{
		WEFT_DEADLINE_SCOPE(room->linger_ms);
		if (weft_event_wait(c->done) == WEFT_ETIMEDOUT)
			weft_abort(w);
	}
	client_unref(c);
}

/*
 * A graceful stop or a reload began: tell every client, then close its
 * queue; its writer sends what is queued, the notice last, and closes
 * the connection, which ends the handler's read with EOF.
 */
static void
chat_stop(void *state)
{
	struct chat *room = state;
	struct client *c, *next;

	weft_event_set(room->stopping);
	for (c = LIST_FIRST(&room->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		notice(room, c, NULL, "* server going down", NULL);
		weft_queue_close(c->q);
	}
}

static void
chat_free(struct chat *room)
{
	weft_event_free(room->idle);
	weft_event_free(room->stopping);
	free(room);
}

static int
chat_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct chat *room;
	int64_t queue_max = weft_setting_int(ctx, "queue_max", 256);
	int64_t linger_ms = weft_setting_ms(ctx, "linger", 5000);

	if (queue_max < 1 || queue_max > 1000000)
		return weft_plugin_error(ctx, "queue_max",
		    "must be 1 to 1000000, not %lld", (long long)queue_max);
	if ((room = calloc(1, sizeof(*room))) == NULL)
		return -ENOMEM;
	if (weft_event_new(&room->idle) != 0 ||
	    weft_event_new(&room->stopping) != 0) {
		chat_free(room);
		return -ENOMEM;
	}
	LIST_INIT(&room->clients);
	weft_event_set(room->idle);
	room->queue_max = (size_t)queue_max;
	room->linger_ms = (uint64_t)linger_ms;
	*state = room;
	return 0;
}

/*
 * After the last connection: a writer fiber may still be finishing (its
 * connection is gone, so it ends on its next run).  Wait for the last
 * one, so that none runs after the plugin is unloaded.
 */
static void
chat_fini(void *state)
{
	struct chat *room = state;

	weft_event_wait(room->idle);
	chat_free(room);
}

WEFT_PLUGIN(chat, .init = chat_init, .client_connected = chat_client,
    .stop = chat_stop, .fini = chat_fini);
