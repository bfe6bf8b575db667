// OpenSSL's libcrypto: HMAC-SHA256 and SHA-256 for request signatures and token checks.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
