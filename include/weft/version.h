/*
 * weft — version numbers and the visibility macro every public header uses.
 */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION_STRING "0.1.0"

/* libweft is built with -fvisibility=hidden; only WEFT_EXTERN is exported. */
#if defined(__GNUC__) || defined(__clang__)
#define WEFT_EXTERN __attribute__((visibility("default")))
#else
#define WEFT_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version string, for comparing against the header's. */
WEFT_EXTERN const char *weft_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_VERSION_H */
