/*
 * weft — error codes.
 *
 * Every weft call that can fail returns an int (or a documented ssize_t
 * count): 0 or more on success, a negative code on failure.  Operating
 * system errors are -errno (-ECONNRESET, -ECONNREFUSED, -EINVAL ...); the
 * codes below are weft's own and start at -1000 so they never collide.
 * Usable from any process and any fiber; these functions are pure.
 */
#ifndef WEFT_ERRORS_H
#define WEFT_ERRORS_H

#include <weft/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * X-macro table: name, value, message.  It generates the enum below,
 * weft_strerror() and weft_err_name(), so the three never drift apart.
 */
#define WEFT_ERRNO_MAP(XX)                                                     \
	XX(EINCOMPLETE, -1001, "EOF before the expected bytes arrived")        \
	XX(ELIMIT, -1002, "line or chunk exceeds the reader limit")            \
	XX(EBUSY, -1003, "another fiber is already waiting on this reader")    \
	XX(ECANCELED, -1004, "operation canceled")                             \
	XX(ETIMEDOUT, -1005, "fiber deadline expired")                         \
	XX(ECLOSED, -1006, "stream is closed")                                 \
	XX(ENOTFIBER, -1007, "call must be made from inside a fiber")          \
	XX(ETLS, -1008, "TLS handshake or record error")                       \
	XX(ETLSVERIFY, -1009, "TLS peer certificate verification failed")

enum weft_errno {
#define WEFT__ERR_ENUM(name, val, msg) WEFT_##name = (val),
	WEFT_ERRNO_MAP(WEFT__ERR_ENUM)
#undef WEFT__ERR_ENUM
};

/** Human-readable text for any weft code or -errno.  Never NULL. */
WEFT_EXTERN const char *weft_strerror(int err);

/** Symbolic name ("WEFT_ELIMIT", "ECONNRESET") for a code.  Never NULL. */
WEFT_EXTERN const char *weft_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_ERRORS_H */
