/* libFuzzer target for invite codes and numeric addresses. Whatever the text, decoding answers
 * a code or an error; a code it accepts encodes again into a canonical code that decodes to the
 * same invite. Likewise an address that parses formats into one that parses the same. Seeds are
 * in corpus/invite/. */
#include "buddy/error.h"
#include "buddy/invite.h"

#include <stdlib.h>
#include <string.h>

static void check_same(const struct buddy_invite *a, const struct buddy_invite *b)
{
	if (memcmp(a->inviter_pk, b->inviter_pk, 32) || memcmp(a->secret, b->secret, 16) ||
	    a->expires != b->expires || a->naddrs != b->naddrs)
		__builtin_trap();
	for (size_t i = 0; i < a->naddrs; i++)
		if (strcmp(a->addrs[i].host, b->addrs[i].host) ||
		    a->addrs[i].port != b->addrs[i].port)
			__builtin_trap();
}

static void check_invite(const char *s)
{
	struct buddy_invite a, b;
	char code[BUDDY_INVITE_CODE_MAX];
	int rc = buddy_invite_decode(s, &a);

	if (rc != 0) {
		if (rc != BUDDY_E_INVALID && rc != BUDDY_E_CORRUPT && rc != BUDDY_E_VERSION)
			__builtin_trap();
		return;
	}
	if (a.naddrs > BUDDY_PEER_ADDRS_MAX || a.expires < 0)
		__builtin_trap();
	if (buddy_invite_encode(&a, code, sizeof(code)) != 0)
		__builtin_trap();
	if (buddy_invite_decode(code, &b) != 0)
		__builtin_trap();
	check_same(&a, &b);
}

static void check_addr(const char *s, uint16_t def)
{
	struct buddy_addr a, b;
	char text[BUDDY_ADDR_HOST_MAX + 8];

	if (buddy_addr_parse(s, def, &a) != 0)
		return;
	if (a.port == 0 || !memchr(a.host, 0, sizeof(a.host)))
		__builtin_trap();
	buddy_addr_format(&a, text, sizeof(text));
	if (buddy_addr_parse(text, 0, &b) != 0 || strcmp(a.host, b.host) || a.port != b.port)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact NUL-terminated copy, so that reading past the text is caught */
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	check_invite(s);
	check_addr(s, 0);
	check_addr(s, 7654);
	free(s);
	return 0;
}
