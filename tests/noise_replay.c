/* Replays one cacophony vector as the README in ../shared/vectors/noise/ describes: build both
 * sides from protocol_name, let each write its messages and read the other's, check every
 * ciphertext, payload and the handshake hash, split, and replay the transport messages. The
 * receiver always reads the vector's bytes, not the sender's output, so each role is checked
 * against the vector on its own. */
#include "noise_replay.h"
#include "buddy/error.h"
#include "buddy/noise.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KEY BUDDY_NOISE_KEY_BYTES

struct party {
	const char *label;
	struct buddy_noise_hs *hs;
	struct buddy_noise_cs *send, *recv;
	uint8_t s[KEY], s_pub[KEY], e[KEY], rs[KEY];
	bool has_s, has_e, has_rs;
	uint8_t psks[BUDDY_NOISE_PSKS_MAX][KEY];
	size_t npsks;
	uint8_t *prologue;
	size_t prologue_len;
};

struct replay {
	const json_t *v;
	char *why;
	size_t whylen;
};

static enum noise_replay_result result(struct replay *r, enum noise_replay_result res,
				       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, r->whylen, fmt, ap);
	va_end(ap);
	return res;
}

/* Decodes a whole hex string into a new buffer (*out, *len); an empty string is zero bytes. */
static int hex_decode(const char *hex, uint8_t **out, size_t *len)
{
	size_t hexlen = strlen(hex);
	const char *end;

	*out = malloc(hexlen / 2 + 1);
	if (!*out)
		return -1;
	if (hexlen % 2 || sodium_hex2bin(*out, hexlen / 2 + 1, hex, hexlen, NULL, len, &end) != 0 ||
	    end != hex + hexlen) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* The hex field key of obj: 1 when present (into a new buffer), 0 when absent, -1 if bad. */
static int hex_field(const json_t *obj, const char *key, uint8_t **out, size_t *len)
{
	const json_t *f = json_object_get(obj, key);

	*out = NULL;
	*len = 0;
	if (!f)
		return 0;
	if (!json_is_string(f) || hex_decode(json_string_value(f), out, len) != 0)
		return -1;
	return 1;
}

/* A 32-byte key field into key; *has says whether it was present. */
static int key_field(struct replay *r, const char *name, uint8_t key[KEY], bool *has)
{
	uint8_t *buf;
	size_t len;
	int ret = hex_field(r->v, name, &buf, &len);

	*has = ret == 1;
	if (ret == 1 && len != KEY)
		ret = -1;
	if (ret == 1)
		memcpy(key, buf, KEY);
	free(buf);
	return ret < 0 ? -1 : 0;
}

static int load_party(struct replay *r, struct party *p, const char *pfx)
{
	char name[64];
	const json_t *psks;
	size_t i, len;
	uint8_t *buf;

	snprintf(name, sizeof(name), "%s_static", pfx);
	if (key_field(r, name, p->s, &p->has_s))
		return -1;
	if (p->has_s)
		crypto_scalarmult_base(p->s_pub, p->s);
	snprintf(name, sizeof(name), "%s_ephemeral", pfx);
	if (key_field(r, name, p->e, &p->has_e))
		return -1;
	snprintf(name, sizeof(name), "%s_remote_static", pfx);
	if (key_field(r, name, p->rs, &p->has_rs))
		return -1;
	snprintf(name, sizeof(name), "%s_prologue", pfx);
	if (hex_field(r->v, name, &p->prologue, &p->prologue_len) < 0)
		return -1;

	snprintf(name, sizeof(name), "%s_psks", pfx);
	psks = json_object_get(r->v, name);
	if (!psks)
		return 0;
	if (!json_is_array(psks) || json_array_size(psks) > BUDDY_NOISE_PSKS_MAX)
		return -1;
	for (i = 0; i < json_array_size(psks); i++) {
		const json_t *s = json_array_get(psks, i);

		if (!json_is_string(s) || hex_decode(json_string_value(s), &buf, &len) != 0)
			return -1;
		if (len == KEY)
			memcpy(p->psks[i], buf, KEY);
		free(buf);
		if (len != KEY)
			return -1;
	}
	p->npsks = i;
	return 0;
}

static void free_party(struct party *p)
{
	buddy_noise_hs_free(p->hs);
	buddy_noise_cs_free(p->send);
	buddy_noise_cs_free(p->recv);
	free(p->prologue);
}

static bool handshake_over(const struct party *p)
{
	return buddy_noise_hs_state(p->hs) == BUDDY_NOISE_SPLIT;
}

/* Buffers of exactly the vector's sizes, so that a sanitizer sees any write past them. */
struct bufs {
	uint8_t *ct, *pl;
};

static int bufs_new(struct bufs *b, size_t ctlen, size_t pllen)
{
	b->ct = malloc(ctlen ? ctlen : 1);
	b->pl = malloc(pllen ? pllen : 1);
	return b->ct && b->pl ? 0 : -1;
}

static void bufs_free(struct bufs *b)
{
	free(b->ct);
	free(b->pl);
}

/* One handshake message: from writes it, the output must be ct; to reads ct, must get pl. A
 * buffer one byte short must be refused first, without consequence. */
static enum noise_replay_result handshake_message(struct replay *r, size_t i, struct party *from,
						  struct party *to, const uint8_t *pl, size_t pllen,
						  const uint8_t *ct, size_t ctlen)
{
	enum noise_replay_result res = NOISE_REPLAY_PASS;
	struct bufs b;
	size_t n;
	int ret;

	if (bufs_new(&b, ctlen, pllen)) {
		res = result(r, NOISE_REPLAY_FAIL, "out of memory");
		goto out;
	}
	if (buddy_noise_hs_state(from->hs) != BUDDY_NOISE_WRITE ||
	    buddy_noise_hs_state(to->hs) != BUDDY_NOISE_READ) {
		res = result(r, NOISE_REPLAY_FAIL, "message %zu: not the %s's turn", i,
			     from->label);
		goto out;
	}
	if (ctlen &&
	    buddy_noise_write_message(from->hs, pl, pllen, b.ct, ctlen - 1, &n) != BUDDY_E_TOOBIG) {
		res = result(r, NOISE_REPLAY_FAIL, "message %zu: %s wrote past its buffer", i,
			     from->label);
		goto out;
	}
	ret = buddy_noise_write_message(from->hs, pl, pllen, b.ct, ctlen, &n);
	if (ret || n != ctlen || memcmp(b.ct, ct, n) != 0) {
		res = result(r, NOISE_REPLAY_FAIL, "message %zu: %s wrote %s", i, from->label,
			     ret ? buddy_strerror(ret) : "a different ciphertext");
		goto out;
	}
	if (pllen &&
	    buddy_noise_read_message(to->hs, ct, ctlen, b.pl, pllen - 1, &n) != BUDDY_E_TOOBIG) {
		res = result(r, NOISE_REPLAY_FAIL, "message %zu: %s read past its buffer", i,
			     to->label);
		goto out;
	}
	ret = buddy_noise_read_message(to->hs, ct, ctlen, b.pl, pllen, &n);
	if (ret || n != pllen || (n && memcmp(b.pl, pl, n) != 0)) {
		res = result(r, NOISE_REPLAY_FAIL, "message %zu: %s read %s", i, to->label,
			     ret ? buddy_strerror(ret) : "a different payload");
		goto out;
	}
out:
	bufs_free(&b);
	return res;
}

/* Once both sides are done: the handshake hash, the learned static keys, then Split. */
static enum noise_replay_result finish(struct replay *r, struct party *a, struct party *b)
{
	struct party *p[2] = {a, b};
	const uint8_t *ha, *hb, *rs;
	uint8_t *want;
	size_t la, lb, wantlen;
	int have, ret;

	ha = buddy_noise_handshake_hash(a->hs, &la);
	hb = buddy_noise_handshake_hash(b->hs, &lb);
	have = hex_field(r->v, "handshake_hash", &want, &wantlen);
	if (have < 0)
		return result(r, NOISE_REPLAY_FAIL, "bad handshake_hash field");
	if (la != lb || memcmp(ha, hb, la) != 0 ||
	    (have && (wantlen != la || memcmp(ha, want, la) != 0))) {
		free(want);
		return result(r, NOISE_REPLAY_FAIL, "handshake hash differs");
	}
	free(want);

	for (int i = 0; i < 2; i++) {
		const struct party *peer = p[1 - i];

		rs = buddy_noise_remote_static(p[i]->hs);
		if (rs && (!peer->has_s || memcmp(rs, peer->s_pub, KEY) != 0))
			return result(r, NOISE_REPLAY_FAIL, "%s learned a wrong remote static",
				      p[i]->label);
		ret = buddy_noise_split(p[i]->hs, &p[i]->send, &p[i]->recv);
		if (ret)
			return result(r, NOISE_REPLAY_FAIL, "%s split: %s", p[i]->label,
				      buddy_strerror(ret));
	}
	return NOISE_REPLAY_PASS;
}

static enum noise_replay_result transport_message(struct replay *r, size_t i, struct party *from,
						  struct party *to, const uint8_t *pl, size_t pllen,
						  const uint8_t *ct, size_t ctlen)
{
	enum noise_replay_result res = NOISE_REPLAY_PASS;
	struct bufs b;
	size_t n;
	int ret;

	if (bufs_new(&b, ctlen, pllen)) {
		res = result(r, NOISE_REPLAY_FAIL, "out of memory");
		goto out;
	}
	if (ctlen && buddy_noise_cs_encrypt(from->send, NULL, 0, pl, pllen, b.ct, ctlen - 1, &n) !=
			     BUDDY_E_TOOBIG) {
		res = result(r, NOISE_REPLAY_FAIL,
			     "transport message %zu: %s wrote past its buffer", i, from->label);
		goto out;
	}
	ret = buddy_noise_cs_encrypt(from->send, NULL, 0, pl, pllen, b.ct, ctlen, &n);
	if (ret || n != ctlen || memcmp(b.ct, ct, n) != 0) {
		res = result(r, NOISE_REPLAY_FAIL, "transport message %zu: %s encrypted %s", i,
			     from->label, ret ? buddy_strerror(ret) : "a different ciphertext");
		goto out;
	}
	if (pllen && buddy_noise_cs_decrypt(to->recv, NULL, 0, ct, ctlen, b.pl, pllen - 1, &n) !=
			     BUDDY_E_TOOBIG) {
		res = result(r, NOISE_REPLAY_FAIL, "transport message %zu: %s read past its buffer",
			     i, to->label);
		goto out;
	}
	ret = buddy_noise_cs_decrypt(to->recv, NULL, 0, ct, ctlen, b.pl, pllen, &n);
	if (ret || n != pllen || (n && memcmp(b.pl, pl, n) != 0)) {
		res = result(r, NOISE_REPLAY_FAIL, "transport message %zu: %s decrypted %s", i,
			     to->label, ret ? buddy_strerror(ret) : "a different payload");
		goto out;
	}
out:
	bufs_free(&b);
	return res;
}

static enum noise_replay_result new_party(struct replay *r, const char *protocol,
					  enum buddy_noise_role role, struct party *p)
{
	struct buddy_noise_params prm = {
		.protocol = protocol,
		.role = role,
		.prologue = p->prologue,
		.prologue_len = p->prologue_len,
		.local_static = p->has_s ? p->s : NULL,
		.remote_static = p->has_rs ? p->rs : NULL,
		.psks = p->npsks ? (const uint8_t(*)[KEY])p->psks : NULL,
		.psk_count = p->npsks,
		.fixed_ephemeral = p->has_e ? p->e : NULL,
	};
	int ret = buddy_noise_hs_new(&prm, &p->hs);

	if (ret == BUDDY_E_VERSION)
		return result(r, NOISE_REPLAY_SKIP, "unsupported protocol");
	if (ret)
		return result(r, NOISE_REPLAY_FAIL, "%s: %s", p->label, buddy_strerror(ret));
	return NOISE_REPLAY_PASS;
}

enum noise_replay_result noise_replay_vector(const json_t *vector, char *why, size_t whylen)
{
	static const char *const skip_keys[] = {"fallback", "fallback_pattern", "fail", "hybrid"};
	struct replay r = {vector, why, whylen};
	struct party init = {.label = "initiator"}, resp = {.label = "responder"};
	enum noise_replay_result res;
	const json_t *name, *msgs;
	uint8_t *pl = NULL, *ct = NULL;
	size_t i, pllen, ctlen;

	if (whylen)
		why[0] = '\0';
	if (!json_is_object(vector))
		return result(&r, NOISE_REPLAY_FAIL, "not an object");
	for (i = 0; i < sizeof(skip_keys) / sizeof(skip_keys[0]); i++)
		if (json_object_get(vector, skip_keys[i]))
			return result(&r, NOISE_REPLAY_SKIP, "has \"%s\"", skip_keys[i]);
	name = json_object_get(vector, "protocol_name");
	if (!name)
		name = json_object_get(vector, "name"); /* older cacophony files */
	msgs = json_object_get(vector, "messages");
	if (!json_is_string(name) || !json_is_array(msgs))
		return result(&r, NOISE_REPLAY_FAIL, "no protocol_name or messages");
	/* Before the keys are parsed: another DH's keys are not 32 bytes, and that is a skip. */
	if (buddy_noise_hs_new(&(struct buddy_noise_params){.protocol = json_string_value(name)},
			       &init.hs) == BUDDY_E_VERSION)
		return result(&r, NOISE_REPLAY_SKIP, "unsupported protocol");
	buddy_noise_hs_free(init.hs);
	init.hs = NULL;
	if (load_party(&r, &init, "init") || load_party(&r, &resp, "resp")) {
		res = result(&r, NOISE_REPLAY_FAIL, "a malformed key, prologue or psk field");
		goto out;
	}
	res = new_party(&r, json_string_value(name), BUDDY_NOISE_INITIATOR, &init);
	if (res == NOISE_REPLAY_PASS)
		res = new_party(&r, json_string_value(name), BUDDY_NOISE_RESPONDER, &resp);
	if (res != NOISE_REPLAY_PASS)
		goto out;

	for (i = 0; i < json_array_size(msgs) && res == NOISE_REPLAY_PASS; i++) {
		const json_t *m = json_array_get(msgs, i);
		struct party *from = i % 2 ? &resp : &init, *to = i % 2 ? &init : &resp;

		if (hex_field(m, "payload", &pl, &pllen) != 1 ||
		    hex_field(m, "ciphertext", &ct, &ctlen) != 1) {
			res = result(&r, NOISE_REPLAY_FAIL, "message %zu: bad fields", i);
		} else if (!handshake_over(&init)) {
			res = handshake_message(&r, i, from, to, pl, pllen, ct, ctlen);
			if (res == NOISE_REPLAY_PASS &&
			    buddy_noise_hs_state(init.hs) == BUDDY_NOISE_DONE &&
			    buddy_noise_hs_state(resp.hs) == BUDDY_NOISE_DONE)
				res = finish(&r, &init, &resp);
		} else {
			res = transport_message(&r, i, from, to, pl, pllen, ct, ctlen);
		}
		free(pl);
		free(ct);
		pl = ct = NULL;
	}
	if (res == NOISE_REPLAY_PASS && !handshake_over(&init))
		res = result(&r, NOISE_REPLAY_FAIL, "the messages end before the handshake does");
out:
	free(pl);
	free(ct);
	free_party(&init);
	free_party(&resp);
	sodium_memzero(&init, sizeof(init));
	sodium_memzero(&resp, sizeof(resp));
	return res;
}

int noise_replay_file(const char *path, struct noise_replay_counts *c, FILE *log, int verbose)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err), *vectors;
	char why[256];

	if (!root) {
		fprintf(log, "Unable to read %s: %s (line %d)\n", path, err.text, err.line);
		return -1;
	}
	vectors = json_object_get(root, "vectors");
	if (!json_is_array(vectors)) {
		fprintf(log, "Unable to read %s: no \"vectors\" array\n", path);
		json_decref(root);
		return -1;
	}
	for (size_t i = 0; i < json_array_size(vectors); i++) {
		const json_t *v = json_array_get(vectors, i);
		const char *name = json_string_value(json_object_get(v, "protocol_name"));

		if (!name)
			name = json_string_value(json_object_get(v, "name"));

		switch (noise_replay_vector(v, why, sizeof(why))) {
		case NOISE_REPLAY_PASS:
			c->passed++;
			break;
		case NOISE_REPLAY_FAIL:
			c->failed++;
			fprintf(log, "FAIL vector %zu %s: %s\n", i, name ? name : "?", why);
			break;
		case NOISE_REPLAY_SKIP:
			c->skipped++;
			if (verbose)
				fprintf(log, "skip vector %zu %s: %s\n", i, name ? name : "?", why);
			break;
		}
	}
	json_decref(root);
	return 0;
}
