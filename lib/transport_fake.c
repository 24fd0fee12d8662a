/*
 * The fake transport of the unit tests: a reader and writer with no
 * socket.  Written bytes are recorded in the connection's tail; the test
 * feeds the reader and drives pause/resume/lost by hand, as CPython's
 * tests do with a mock transport.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>

#include "transport.h"

/* What was written, in the connection's tail (c_h). */
struct fake_rec {
	char *buf;
	size_t len;
	size_t cap;
};

static struct fake_rec *
rec_of(const weft__conn_t *c)
{
	return (struct fake_rec *)(void *)&c->c_h;
}

static int
fake_write(weft__conn_t *c, const weft_slice_t *bufs, size_t n)
{
	struct fake_rec *rec = rec_of(c);
	size_t i, ncap;
	char *nb;

	for (i = 0; i < n; i++) {
		if (rec->cap - rec->len < bufs[i].len) {
			ncap = rec->cap == 0 ? 256 : rec->cap * 2;
			if (ncap < rec->len + bufs[i].len)
				ncap = rec->len + bufs[i].len;
			if ((nb = realloc(rec->buf, ncap)) == NULL)
				return -ENOMEM;
			rec->buf = nb;
			rec->cap = ncap;
		}
		memcpy(rec->buf + rec->len, bufs[i].base, bufs[i].len);
		rec->len += bufs[i].len;
	}
	return 0;
}

static void
fake_nop(weft__conn_t *c)
{
	(void)c;
}

/* Nothing to flush: closing is connection_lost at once. */
static void
fake_close(weft__conn_t *c)
{
	weft__conn_lost(c, 0);
}

static size_t
fake_buffered(const weft__conn_t *c)
{
	(void)c;
	return 0;
}

static int
fake_busy(const weft__conn_t *c)
{
	(void)c;
	return 0;
}

static int
fake_fileno(const weft__conn_t *c)
{
	(void)c;
	return -ENOTSUP;
}

static int
fake_addr(const weft__conn_t *c, int peer, struct sockaddr *sa, socklen_t *len)
{
	(void)c;
	(void)peer;
	(void)sa;
	(void)len;
	return -ENOTSUP;
}

static void
fake_destroy(weft__conn_t *c)
{
	struct fake_rec *rec = rec_of(c);

	free(rec->buf);
	memset(rec, 0, sizeof(*rec));
}

const weft__transport_t weft__transport_fake = {
	.t_name = "fake",
	.t_base = &weft__transport_fake,
	.t_size = offsetof(weft__conn_t, c_h) + sizeof(struct fake_rec),
	.t_read_start = NULL, /* the test feeds the reader */
	.t_read_stop = NULL,
	.t_write = fake_write,
	.t_write_eof = fake_nop,
	.t_close = fake_close,
	.t_abort = fake_nop,
	.t_buffered = fake_buffered,
	.t_busy = fake_busy,
	.t_fileno = fake_fileno,
	.t_addr = fake_addr,
	.t_destroy = fake_destroy,
};

int
weft__fake_pair(ssize_t limit, weft_reader_t **r, weft_writer_t **w)
{
	weft__conn_t *c;

	if (limit <= 0)
		return -EINVAL;
	if ((c = weft__conn_new(&weft__transport_fake, (size_t)limit)) == NULL)
		return -ENOMEM;
	*r = &c->c_r;
	*w = &c->c_w;
	return 0;
}

weft_slice_t
weft__fake_written(weft_writer_t *w)
{
	const struct fake_rec *rec = rec_of(weft__conn_of_writer(w));
	weft_slice_t s = { "", 0 };

	if (rec->buf != NULL) {
		s.base = rec->buf;
		s.len = rec->len;
	}
	return s;
}

void
weft__fake_free(weft_writer_t *w)
{
	weft__conn_t *c = weft__conn_of_writer(w);

	c->c_owner_done = 1;
	weft__conn_maybe_free(c);
}

void
weft__fake_feed(weft_writer_t *w, const void *data, size_t len)
{
	weft__conn_t *c = weft__conn_of_writer(w);
	const char *p = data;
	char *base;
	size_t n;

	/* Through the filter's input if there is one, as a read would. */
	if (c->c_tr->t_rx_commit == NULL) {
		if (len == 0)
			weft_feed_eof(&c->c_r);
		else
			weft_feed_data(&c->c_r, data, len);
		return;
	}
	if (len == 0) {
		c->c_tr->t_rx_commit(c, UV_EOF);
		return;
	}
	while (len > 0 && c->c_tr->t_rx_reserve(c, &base, &n) == 0) {
		if (n > len)
			n = len;
		memcpy(base, p, n);
		p += n;
		len -= n;
		c->c_tr->t_rx_commit(c, (ssize_t)n);
	}
}

void
weft__fake_clear(weft_writer_t *w)
{
	rec_of(weft__conn_of_writer(w))->len = 0;
}
