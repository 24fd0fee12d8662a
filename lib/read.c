/*
 * The read calls of a StreamReader: read, read_all, readuntil (one or
 * several separators), readline, readexactly and read_slice.  Each
 * starts by expiring the previous call's slice, waits if the buffer holds
 * too little, and consumes from the buffer's head.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "reader_int.h"

static const weft_slice_t newline = { "\n", 1 };

/* Every call on the reader starts here: the previous slice expires. */
static void
release_lent(weft_reader_t *r)
{
	if (r->r_lent != NULL) {
		free(r->r_lent);
		r->r_lent = NULL;
	}
	r->r_pin = r->r_head;
	weft__reader_trim(r);
}

static void
maybe_resume(weft_reader_t *r)
{
	if (r->r_paused && LEN(r) <= r->r_limit) {
		r->r_paused = 0;
		if (r->r_ops != NULL)
			r->r_ops->resume_reading(r->r_ctx);
	}
}

static void
consume(weft_reader_t *r, size_t n)
{
	r->r_head += n;
	r->r_taken += n;
}

static void
set_err(weft_reader_t *r, int code, int found, size_t consumed, size_t partial,
    ssize_t expected)
{
	r->r_errcode = code == WEFT_ELIMIT ? 1
	    : code == WEFT_EINCOMPLETE	   ? 2
					   : 0;
	r->r_errfound = (uint8_t)found;
	r->r_errval = (uint32_t)(code == WEFT_ELIMIT ? consumed : partial);
	/* A readexactly beyond 2 GiB reports its expected count clamped. */
	r->r_errexpected = expected > INT32_MAX ? INT32_MAX : (int32_t)expected;
}

/* Wait for bytes, EOF or an error (a fiber parks; callback mode gets
 * -EAGAIN); a paused transport is resumed first. */
static int
wait_for_data(weft_reader_t *r)
{
	if (r->r_cbmode) {
		/* Callback mode: -EAGAIN is this mode's wait (the next
		 * callback retries), so a paused reader resumes first, as
		 * below: a callback waiting for more than 2*limit bytes would
		 * never be called again.  weft_read_stop's pause stays. */
		if (r->r_paused && r->r_cbk.cb != NULL) {
			r->r_paused = 0;
			if (r->r_ops != NULL)
				r->r_ops->resume_reading(r->r_ctx);
		}
		return -EAGAIN;
	}
	if (!weft__wq_empty(&r->r_wq))
		return WEFT_EBUSY;
	if (weft_current() == NULL)
		return WEFT_ENOTFIBER;
	WEFT__ASSERT(!r->r_eof);
	if (r->r_paused) {
		r->r_paused = 0;
		if (r->r_ops != NULL)
			r->r_ops->resume_reading(r->r_ctx);
	}
	return weft__reader_park(r);
}

int
weft__reader_more(weft_reader_t *r)
{
	release_lent(r);
	if (r->r_exc != 0)
		return r->r_exc;
	if (r->r_eof)
		return WEFT_EINCOMPLETE;
	return wait_for_data(r);
}

ssize_t
weft_read(weft_reader_t *r, void *buf, size_t n)
{
	size_t k;
	int rc;

	release_lent(r);
	if (r->r_exc != 0)
		return r->r_exc;
	if (n == 0)
		return 0;
	if (LEN(r) == 0 && !r->r_eof) {
		if ((rc = wait_for_data(r)) < 0)
			return rc;
	}
	k = LEN(r) < n ? LEN(r) : n;
	if (k > 0)
		memcpy(buf, BASE(r), k);
	consume(r, k);
	r->r_pin = r->r_head;
	weft__reader_trim(r);
	maybe_resume(r);
	return (ssize_t)k;
}

int
weft_read_all(weft_reader_t *r, size_t max, weft_slice_t *out)
{
	int rc;

	release_lent(r);
	if (r->r_exc != 0)
		return r->r_exc;
	while (!r->r_eof) {
		if (max != 0 && LEN(r) > max)
			rc = WEFT_ELIMIT;
		else
			rc = wait_for_data(r);
		if (rc == -EAGAIN || rc == WEFT_ENOTFIBER)
			return rc; /* did not wait: nothing consumed */
		if (rc < 0) {
			/* CPython's read(-1) has consumed these chunks
			 * already when the error comes: they are lost. */
			consume(r, LEN(r));
			release_lent(r);
			maybe_resume(r);
			return rc;
		}
	}
	if (max != 0 && LEN(r) > max) {
		consume(r, LEN(r));
		release_lent(r);
		return WEFT_ELIMIT;
	}
	out->base = r->r_buf != NULL ? BASE(r) : "";
	out->len = LEN(r);
	consume(r, LEN(r));
	maybe_resume(r);
	return 0;
}

/*
 * memmem for a separator of up to SHORT_SEP bytes ("\r\n", "\r\n\r\n"):
 * memchr to each candidate first byte, then compare the rest.  glibc's
 * memmem sets up a shift table on every call, which cost more than the
 * whole search of a typical HTTP head (callgrind: about 280 of 2250
 * instructions per keep-alive request in http-hello).  The worst case is
 * SHORT_SEP compares per byte, still linear; longer separators keep
 * memmem's linear-time guarantee.
 */
#define SHORT_SEP 4

static const char *
find_sep(const char *h, size_t hlen, const char *n, size_t nlen)
{
	const char *p, *last;
	size_t k;

	if (nlen > SHORT_SEP)
		return memmem(h, hlen, n, nlen);
	if (hlen < nlen)
		return NULL;
	last = h + (hlen - nlen);
	for (p = h; p <= last; p++) {
		p = memchr(p, n[0], (size_t)(last - p) + 1);
		if (p == NULL)
			return NULL;
		for (k = 1; k < nlen && p[k] == n[k]; k++)
			;
		if (k == nlen)
			return p;
	}
	return NULL;
}

/*
 * The search loop of readuntil (doc/semantics.md S1.8, Q1 fixed).  On
 * success [*start, *end) is the chunk's separator match; the buffer is
 * not touched.  Returns 0, WEFT_ELIMIT (details recorded),
 * WEFT_EINCOMPLETE (EOF, nothing matched) or a wait error.
 */
static int
search(weft_reader_t *r, const weft_slice_t *seps, size_t nseps, size_t *start,
    size_t *end)
{
	size_t minlen = SIZE_MAX, maxlen = 0, offset = 0, i;
	size_t best_end, best_len, best_start, buflen;
	uint32_t taken;
	const char *base, *p;
	int rc;

	for (i = 0; i < nseps; i++) {
		if (seps[i].len < minlen)
			minlen = seps[i].len;
		if (seps[i].len > maxlen)
			maxlen = seps[i].len;
	}
	for (;;) {
		buflen = LEN(r);
		if (buflen >= offset && buflen - offset >= minlen) {
			base = BASE(r);
			best_end = SIZE_MAX;
			best_len = 0;
			best_start = 0;
			for (i = 0; i < nseps; i++) {
				if (seps[i].len == 1)
					p = memchr(base + offset,
					    seps[i].base[0], buflen - offset);
				else
					p = find_sep(base + offset,
					    buflen - offset, seps[i].base,
					    seps[i].len);
				if (p == NULL)
					continue;
				if ((size_t)(p - base) + seps[i].len <
					best_end ||
				    ((size_t)(p - base) + seps[i].len ==
					    best_end &&
					seps[i].len < best_len)) {
					best_start = (size_t)(p - base);
					best_len = seps[i].len;
					best_end = best_start + best_len;
				}
			}
			if (best_end != SIZE_MAX) {
				if (best_start > r->r_limit) {
					set_err(r, WEFT_ELIMIT, 1, best_start,
					    0, 0);
					return WEFT_ELIMIT;
				}
				*start = best_start;
				*end = best_end;
				return 0;
			}
			offset = buflen + 1 > maxlen ? buflen + 1 - maxlen : 0;
			if (offset > r->r_limit) {
				set_err(r, WEFT_ELIMIT, 0, offset, 0, 0);
				return WEFT_ELIMIT;
			}
		}
		if (r->r_eof)
			return WEFT_EINCOMPLETE;
		taken = r->r_taken;
		if ((rc = wait_for_data(r)) < 0)
			return rc;
		/* Q1 fixed (doc/semantics.md S6.1): bytes another fiber
		 * took meanwhile move the already-searched region forward
		 * with them. */
		taken = r->r_taken - taken;
		offset = offset > taken ? offset - (size_t)taken : 0;
	}
}

/* Hand out [head, head+n) as a lent slice. */
static void
lend(weft_reader_t *r, size_t n, weft_slice_t *out)
{
	out->base = r->r_buf != NULL ? BASE(r) : "";
	out->len = n;
	consume(r, n);
}

static int
readuntil_seps(weft_reader_t *r, const weft_slice_t *seps, size_t nseps,
    weft_slice_t *out)
{
	size_t start, end, len;
	int rc;

	release_lent(r);
	if (r->r_exc != 0)
		return r->r_exc;
	rc = search(r, seps, nseps, &start, &end);
	if (rc == 0) {
		lend(r, end, out);
		maybe_resume(r);
	} else if (rc == WEFT_EINCOMPLETE) {
		len = LEN(r);
		set_err(r, WEFT_EINCOMPLETE, 0, 0, len, -1);
		lend(r, len, out);
	}
	return rc;
}

int
weft_readuntil(weft_reader_t *r, const void *sep, size_t seplen,
    weft_slice_t *out)
{
	weft_slice_t s = { sep, seplen };

	if (sep == NULL || seplen == 0)
		return -EINVAL;
	return readuntil_seps(r, &s, 1, out);
}

int
weft_readuntil_any(weft_reader_t *r, const weft_slice_t *seps, size_t nseps,
    weft_slice_t *out)
{
	size_t i;

	if (seps == NULL || nseps == 0)
		return -EINVAL;
	for (i = 0; i < nseps; i++)
		if (seps[i].base == NULL || seps[i].len == 0)
			return -EINVAL;
	return readuntil_seps(r, seps, nseps, out);
}

/* readline's handling of an overrun: drop the long line as CPython does
 * (doc/semantics.md S1.9). */
static void
discard_overrun(weft_reader_t *r)
{
	size_t c = r->r_errval;

	if (c < LEN(r) && BASE(r)[c] == '\n')
		consume(r, c + 1);
	else
		consume(r, LEN(r));
	r->r_pin = r->r_head;
	weft__reader_trim(r);
	maybe_resume(r);
}

int
weft_readline(weft_reader_t *r, weft_slice_t *out)
{
	size_t start, end;
	int rc;

	release_lent(r);
	if (r->r_exc != 0)
		return r->r_exc;
	rc = search(r, &newline, 1, &start, &end);
	if (rc == 0) {
		lend(r, end, out);
		maybe_resume(r);
	} else if (rc == WEFT_EINCOMPLETE) {
		lend(r, LEN(r), out);
		rc = 0;
	} else if (rc == WEFT_ELIMIT) {
		discard_overrun(r);
	}
	return rc;
}

ssize_t
weft_readline_copy(weft_reader_t *r, void *buf, size_t size)
{
	size_t start, end;
	int rc;

	release_lent(r);
	if (r->r_exc != 0)
		return r->r_exc;
	rc = search(r, &newline, 1, &start, &end);
	if (rc == WEFT_EINCOMPLETE) {
		end = LEN(r);
		rc = 0;
	} else if (rc == WEFT_ELIMIT) {
		discard_overrun(r);
		return rc;
	}
	if (rc < 0)
		return rc;
	if (end > size)
		return -ENOBUFS;
	if (end > 0)
		memcpy(buf, BASE(r), end);
	consume(r, end);
	r->r_pin = r->r_head;
	weft__reader_trim(r);
	maybe_resume(r);
	return (ssize_t)end;
}

int
weft_readexactly(weft_reader_t *r, void *buf, ssize_t n, size_t *got)
{
	size_t len;
	int rc;

	if (n < 0)
		return -EINVAL;
	release_lent(r);
	if (r->r_exc != 0)
		return r->r_exc;
	if (n == 0) {
		if (got != NULL)
			*got = 0;
		return 0;
	}
	while (LEN(r) < (size_t)n) {
		if (r->r_eof) {
			len = LEN(r);
			if (len > 0)
				memcpy(buf, BASE(r), len);
			if (got != NULL)
				*got = len;
			set_err(r, WEFT_EINCOMPLETE, 0, 0, len, n);
			consume(r, len);
			r->r_pin = r->r_head;
			weft__reader_trim(r);
			return WEFT_EINCOMPLETE;
		}
		if ((rc = wait_for_data(r)) < 0)
			return rc;
	}
	memcpy(buf, BASE(r), (size_t)n);
	consume(r, (size_t)n);
	r->r_pin = r->r_head;
	if (got != NULL)
		*got = (size_t)n;
	weft__reader_trim(r);
	maybe_resume(r);
	return 0;
}

ssize_t
weft_read_slice(weft_reader_t *r, size_t n, weft_slice_t *out)
{
	size_t k;
	int rc;

	release_lent(r);
	if (r->r_exc != 0)
		return r->r_exc;
	if (n == 0) {
		out->base = "";
		out->len = 0;
		return 0;
	}
	if (LEN(r) == 0 && !r->r_eof) {
		if ((rc = wait_for_data(r)) < 0)
			return rc;
	}
	k = LEN(r) < n ? LEN(r) : n;
	lend(r, k, out);
	maybe_resume(r);
	return (ssize_t)k;
}
