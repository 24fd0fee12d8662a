/*
 * StreamReader: the buffer, what transports feed it, waiting for data, and
 * reader-side flow control.  The read calls are in read.c.
 *
 * Data lives in [r_head, r_tail) of r_buf.  Slices handed out by
 * readline/readuntil/read_all stay valid until the next call on the
 * reader: the bytes of the slice ([r_pin, r_head)) are never moved while
 * lent, and a buffer that has to grow meanwhile is kept in r_lent until
 * then.  A reader with nothing buffered gives its buffer back to the pool.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "reader_int.h"

/* Room the transport gets per read at least, before we compact or grow. */
#define READ_MIN (16 * 1024)
/* The most a transport read may fill the buffer to: reading pauses past
 * 2*limit, and one read goes at most READ_MIN beyond that. */
#define READ_MOST(r) (2 * (size_t)(r)->r_limit + READ_MIN)

void
weft__reader_init(weft_reader_t *r, size_t limit)
{
	memset(r, 0, sizeof(*r));
	r->r_limit = (uint32_t)limit;
}

static void
buf_free(char *buf, size_t cap)
{
	if (cap == WEFT__BUF_SIZE)
		weft__buf_put(buf);
	else
		free(buf);
}

void
weft__reader_destroy(weft_reader_t *r)
{
	if (r->r_lent != NULL)
		free(r->r_lent);
	if (r->r_buf != NULL)
		buf_free(r->r_buf, r->r_cap);
	r->r_lent = r->r_buf = NULL;
	r->r_cap = r->r_head = r->r_tail = r->r_pin = 0;
}

void
weft__reader_trim(weft_reader_t *r)
{
	if (r->r_buf != NULL && r->r_head == r->r_tail &&
	    r->r_pin == r->r_head) {
		buf_free(r->r_buf, r->r_cap);
		r->r_buf = NULL;
		r->r_cap = r->r_head = r->r_tail = r->r_pin = 0;
	}
}

/* Make room for need more bytes at the tail. */
static int
ensure_space(weft_reader_t *r, size_t need)
{
	size_t len, ncap;
	char *nbuf;

	if (need > UINT32_MAX - (size_t)r->r_tail)
		return -ENOBUFS; /* offsets are 32-bit: see WEFT__LIMIT_MAX */
	if (r->r_buf == NULL) {
		ncap = need <= WEFT__BUF_SIZE ? WEFT__BUF_SIZE : need;
		nbuf = ncap == WEFT__BUF_SIZE ? weft__buf_get() : malloc(ncap);
		if (nbuf == NULL)
			return -ENOMEM;
		r->r_buf = nbuf;
		r->r_cap = ncap;
		r->r_head = r->r_tail = r->r_pin = 0;
		return 0;
	}
	if (r->r_cap - r->r_tail >= need)
		return 0;
	len = LEN(r);
	if (r->r_pin == r->r_head && len + need <= r->r_cap) {
		/* Nothing lent: slide the data to the front. */
		memmove(r->r_buf, BASE(r), len);
		r->r_head = r->r_pin = 0;
		r->r_tail = len;
		return 0;
	}
	ncap = (size_t)r->r_cap * 2;
	/* No need to double past what a transport read can fill (see
	 * weft__reader_reserve). */
	if (ncap > READ_MOST(r) && len + need <= READ_MOST(r))
		ncap = READ_MOST(r);
	if (ncap < len + need)
		ncap = len + need;
	if (ncap > UINT32_MAX)
		ncap = UINT32_MAX;
	if ((nbuf = malloc(ncap)) == NULL)
		return -ENOMEM;
	memcpy(nbuf, BASE(r), len);
	if (r->r_pin != r->r_head) {
		/* A slice points into the old buffer: keep it until the next
		 * call (only one buffer can hold lent bytes at a time). */
		WEFT__ASSERT(r->r_lent == NULL);
		r->r_lent = r->r_buf; /* pool buffers are malloc blocks too */
	} else {
		buf_free(r->r_buf, r->r_cap);
	}
	r->r_buf = nbuf;
	r->r_cap = ncap;
	r->r_head = r->r_pin = 0;
	r->r_tail = len;
	return 0;
}

/* Tell whoever waits: the fiber parked on the reader, or the callback. */
static void
notify(weft_reader_t *r, int status)
{
	if (!r->r_cbmode) {
		weft__wake_one(&r->r_wq, status);
		return;
	}
	if (r->r_cbk.cb == NULL || r->r_incb)
		return;
	r->r_incb = 1;
	r->r_cbk.cb(r, status, r->r_cbk.arg);
	r->r_incb = 0;
}

/* After bytes were appended: pause past 2*limit, then wake the reader.
 * (A callback may consume and resume at once.) */
static void
after_data(weft_reader_t *r)
{
	if (r->r_ops != NULL && !r->r_paused && LEN(r) > 2 * r->r_limit) {
		if (r->r_ops->pause_reading(r->r_ctx) == -ENOTSUP)
			r->r_ops = NULL;
		else
			r->r_paused = 1;
	}
	notify(r, 0);
}

/* The last callback of a callback-mode reader before it is freed. */
void
weft__reader_gone(weft_reader_t *r)
{
	if (r->r_cbmode && r->r_cbk.cb != NULL) {
		r->r_incb = 0;
		notify(r, WEFT_ECLOSED);
	}
}

int
weft_read_start(weft_reader_t *r, weft_read_cb cb, void *arg)
{
	if (cb == NULL)
		return -EINVAL;
	if (!r->r_cbmode && !weft__wq_empty(&r->r_wq))
		return WEFT_EBUSY;
	r->r_cbmode = 1;
	r->r_cbk.cb = cb;
	r->r_cbk.arg = arg;
	if (r->r_paused && LEN(r) <= 2 * r->r_limit) {
		r->r_paused = 0;
		if (r->r_ops != NULL)
			r->r_ops->resume_reading(r->r_ctx);
	}
	if (LEN(r) > 0 || r->r_eof || r->r_exc != 0)
		notify(r, r->r_exc);
	return 0;
}

int
weft_read_stop(weft_reader_t *r)
{
	if (!r->r_cbmode)
		return -EINVAL;
	r->r_cbk.cb = NULL;
	if (!r->r_paused && r->r_ops != NULL &&
	    r->r_ops->pause_reading(r->r_ctx) == 0)
		r->r_paused = 1;
	return 0;
}

/* ---- Public: state ----------------------------------------------------- */

int
weft_reader_new(ssize_t limit, weft_reader_t **out)
{
	weft_reader_t *r;

	WEFT__ASSERT(out != NULL && *out == NULL);
	if (limit <= 0 || (size_t)limit > WEFT__LIMIT_MAX)
		return -EINVAL;
	if ((r = malloc(sizeof(*r))) == NULL)
		return -ENOMEM;
	weft__reader_init(r, (size_t)limit);
	r->r_standalone = 1;
	*out = r;
	return 0;
}

void
weft_reader_free(weft_reader_t **rp)
{
	if (rp == NULL || *rp == NULL)
		return;
	if ((*rp)->r_standalone) {
		weft__reader_destroy(*rp);
		free(*rp);
	}
	*rp = NULL;
}

int
weft_reader_set_transport(weft_reader_t *r, const weft_transport_ops_t *ops,
    void *ctx)
{
	if (r->r_ops != NULL)
		return -EALREADY;
	if (ops == NULL || ops->pause_reading == NULL ||
	    ops->resume_reading == NULL)
		return -EINVAL;
	r->r_ops = ops;
	r->r_ctx = ctx;
	return 0;
}

int
weft_reader_paused(const weft_reader_t *r)
{
	return r->r_paused;
}

int
weft_reader_has_transport(const weft_reader_t *r)
{
	return r->r_ops != NULL;
}

size_t
weft_reader_limit(const weft_reader_t *r)
{
	return r->r_limit;
}

weft_slice_t
weft_reader_buffer(const weft_reader_t *r)
{
	weft_slice_t s = { r->r_buf != NULL ? BASE(r) : "", LEN(r) };

	return s;
}

int
weft_feed_data(weft_reader_t *r, const void *data, size_t len)
{
	int rc;

	if (r->r_eof)
		return -EPIPE;
	if (len == 0)
		return 0;
	if ((rc = ensure_space(r, len)) != 0)
		return rc;
	memcpy(r->r_buf + r->r_tail, data, len);
	r->r_tail += len;
	after_data(r);
	return 0;
}

int
weft__reader_reserve(weft_reader_t *r, char **base, size_t *len)
{
	size_t have = LEN(r);
	int rc;

	if ((rc = ensure_space(r, READ_MIN)) != 0)
		return rc;
	*base = r->r_buf + r->r_tail;
	*len = r->r_cap - r->r_tail;
	/* However large the buffer has grown, one read does not take it
	 * past READ_MOST: a peer that sends without end (and a handler that
	 * does not read) costs 2*limit + READ_MIN here, not twice that. */
	if (have < READ_MOST(r) && *len > READ_MOST(r) - have)
		*len = READ_MOST(r) - have;
	return 0;
}

void
weft__reader_commit(weft_reader_t *r, size_t n)
{
	if (n == 0) {
		weft__reader_trim(r);
		return;
	}
	r->r_tail += n;
	if (!r->r_standalone)
		weft__conn_count_in(weft__conn_of_reader(r), n);
	after_data(r);
}

void
weft_feed_eof(weft_reader_t *r)
{
	r->r_eof = 1;
	notify(r, 0);
}

int
weft_at_eof(const weft_reader_t *r)
{
	return r->r_eof && LEN(r) == 0;
}

int
weft_reader_exception(const weft_reader_t *r)
{
	return r->r_exc;
}

void
weft_reader_set_exception(weft_reader_t *r, int err)
{
	r->r_exc = err;
	if (err != 0)
		notify(r, err);
}

int
weft_reader_last_error(const weft_reader_t *r, weft_read_error_t *info)
{
	int code = r->r_errcode == 1 ? WEFT_ELIMIT
	    : r->r_errcode == 2	     ? WEFT_EINCOMPLETE
				     : 0;

	if (info != NULL) {
		info->code = code;
		info->found = r->r_errfound;
		info->consumed = r->r_errcode == 1 ? r->r_errval : 0;
		info->partial = r->r_errcode == 2 ? r->r_errval : 0;
		info->expected = r->r_errexpected;
	}
	return code;
}

const char *
weft_reader_error_message(const weft_reader_t *r, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	if (r->r_errcode == 1) {
		snprintf(buf, size, "%s",
		    r->r_errfound
			? "Separator is found, but chunk is longer than limit"
			: "Separator is not found, and chunk exceed the limit");
	} else if (r->r_errcode == 2) {
		if (r->r_errexpected < 0)
			snprintf(buf, size,
			    "%u bytes read on a total of undefined expected "
			    "bytes",
			    r->r_errval);
		else
			snprintf(buf, size,
			    "%u bytes read on a total of %d expected bytes",
			    r->r_errval, r->r_errexpected);
	} else {
		buf[0] = '\0';
	}
	return buf;
}
