/*
 * Error codes: weft_strerror() and weft_err_name() over weft's own codes
 * (from the WEFT_ERRNO_MAP table) and -errno values.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>
#include <uv.h>

#include <weft/errors.h>
#include <weft/version.h>

const char *
weft_version_string(void)
{
	return WEFT_VERSION_STRING;
}

const char *
weft_strerror(int err)
{
	switch (err) {
#define WEFT__ERR_STR(name, val, msg)                                          \
	case WEFT_##name:                                                      \
		return msg;
		WEFT_ERRNO_MAP(WEFT__ERR_STR)
#undef WEFT__ERR_STR
	case 0:
		return "success";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

const char *
weft_err_name(int err)
{
	switch (err) {
#define WEFT__ERR_NAME(name, val, msg)                                         \
	case WEFT_##name:                                                      \
		return "WEFT_" #name;
		WEFT_ERRNO_MAP(WEFT__ERR_NAME)
#undef WEFT__ERR_NAME
	case 0:
		return "OK";
	}
	/* libuv's error codes are -errno on Unix, so its names apply. */
	if (err < 0 && err > -4096)
		return uv_err_name(err);
	return "UNKNOWN";
}
