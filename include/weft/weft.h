/*
 * weft — umbrella header: asyncio Streams in C on fibers over libuv.
 */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <weft/version.h>
#include <weft/errors.h>
#include <weft/fiber.h>
#include <weft/sync.h>
#include <weft/stream.h>
#include <weft/server.h>
#include <weft/tls.h>

#endif /* WEFT_WEFT_H */
