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

/* libuv's own codes (getaddrinfo's UV_EAI_*) are not errnos: their text
 * is libuv's.  Not uv_strerror, which allocates for unknown codes. */
static const char *
uv_text(int err)
{
	switch (err) {
#define WEFT__UV_TEXT(name, msg)                                               \
	case UV_##name:                                                        \
		return msg;
		UV_ERRNO_MAP(WEFT__UV_TEXT)
#undef WEFT__UV_TEXT
	}
	return NULL;
}

const char *
weft_strerror(int err)
{
	const char *text;

	switch (err) {
#define WEFT__ERR_STR(name, val, msg)                                          \
	case WEFT_##name:                                                      \
		return msg;
		WEFT_ERRNO_MAP(WEFT__ERR_STR)
#undef WEFT__ERR_STR
	case 0:
		return "success";
	}
	if (err <= -3000 && (text = uv_text(err)) != NULL)
		return text;
	if (err < 0 && err > -4096) {
#ifdef HAVE_STRERRORDESC_NP
		/* Not strerror: glibc's formats unknown codes into a buffer it
		 * allocates. */
		text = strerrordesc_np(-err);
		return text != NULL ? text : "unknown error";
#else
		return strerror(-err);
#endif
	}
	return "unknown error";
}

/* Not uv_err_name: it allocates a string for codes it has no name for,
 * which the caller could never free. */
static const char *
uv_name(int err)
{
	switch (err) {
#define WEFT__UV_NAME(name, msg)                                               \
	case UV_##name:                                                        \
		return #name;
		UV_ERRNO_MAP(WEFT__UV_NAME)
#undef WEFT__UV_NAME
	}
	return NULL;
}

const char *
weft_err_name(int err)
{
	const char *name;

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
	if (err < 0 && err > -4096 && (name = uv_name(err)) != NULL)
		return name;
#ifdef HAVE_STRERRORNAME_NP
	if (err < 0 && err > -4096 && (name = strerrorname_np(-err)) != NULL)
		return name;
#endif
	return "UNKNOWN";
}
