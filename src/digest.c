/*
 * digest.c — sparkgen.digest: content hashes for cache keys, from OpenSSL's libcrypto.
 * A separate module (loaded on first require, see main.c) because libcrypto costs about
 * a millisecond to map at start-up and most commands never hash anything.
 *
 * @function sha256(data)   64 lowercase hex characters
 * @example  require("sparkgen.digest").sha256("abc") --> "ba7816bf..."
 */
#include <lua.h>
#include <lauxlib.h>
#include <openssl/evp.h>

#include "sparkgen.h"

static int l_digest_sha256(lua_State *L)
{
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!EVP_Digest(data, len, digest, &dlen, EVP_sha256(), NULL))
        return luaL_error(L, "sha256 failed");
    char hex[2 * EVP_MAX_MD_SIZE];
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < dlen; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    lua_pushlstring(L, hex, 2 * (size_t)dlen);
    return 1;
}

static const luaL_Reg digest_functions[] = {
    {"sha256", l_digest_sha256},
    {NULL, NULL},
};

int luaopen_sparkgen_digest(lua_State *L)
{
    luaL_newlib(L, digest_functions);
    return 1;
}
