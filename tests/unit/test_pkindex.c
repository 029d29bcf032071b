/* The index by public key (daemon/pkindex.h) and the lookups built on it: every key put is
 * found, keys never put are not, removal keeps every other key findable (backward shift
 * across the end of the table, with keys forced into one run of slots), growth keeps them all;
 * and buddy_buddies_by_pk with many buddies, a revocation and a pairing again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "buddy/buddies.h"
#include "buddy/mp.h"
#include "pkindex.h"

#define N 1000

static uint8_t keys[N][PKIX_KEY];

/* The records are the keys themselves. */
static const uint8_t *key_at(const void *r)
{
	return r;
}

static void make_keys(void)
{
	for (size_t i = 0; i < N; i++)
		randombytes_buf(keys[i], PKIX_KEY);
}

static void test_put_get_and_absent(void **state)
{
	struct pkix ix = {0};
	uint8_t other[PKIX_KEY];

	(void)state;
	make_keys();
	assert_null(pkix_get(&ix, keys[0], key_at)); /* empty, never allocated */
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(pkix_put(&ix, keys[i], key_at), 0);
		assert_ptr_equal(pkix_get(&ix, keys[i], key_at), keys[i]);
	}
	assert_int_equal(ix.n, N);
	assert_true(ix.cap >= 2 * N); /* never more than half full */
	for (size_t i = 0; i < N; i++)
		assert_ptr_equal(pkix_get(&ix, keys[i], key_at), keys[i]);
	for (int k = 0; k < 100; k++) {
		randombytes_buf(other, sizeof(other));
		assert_null(pkix_get(&ix, other, key_at));
	}
	pkix_free(&ix);
	assert_null(ix.s);
	pkix_free(&ix); /* twice is fine */
}

static void test_delete_keeps_the_others(void **state)
{
	struct pkix ix = {0};

	(void)state;
	make_keys();
	for (size_t i = 0; i < N; i++)
		assert_int_equal(pkix_put(&ix, keys[i], key_at), 0);
	/* every third key goes; the rest must still be found, the gone ones not */
	for (size_t i = 0; i < N; i += 3)
		pkix_del(&ix, keys[i], key_at);
	pkix_del(&ix, keys[0], key_at); /* not there any more: nothing happens */
	for (size_t i = 0; i < N; i++)
		assert_ptr_equal(pkix_get(&ix, keys[i], key_at), i % 3 ? keys[i] : NULL);
	/* and they can come back */
	for (size_t i = 0; i < N; i += 3)
		assert_int_equal(pkix_put(&ix, keys[i], key_at), 0);
	for (size_t i = 0; i < N; i++)
		assert_ptr_equal(pkix_get(&ix, keys[i], key_at), keys[i]);
	assert_int_equal(ix.n, N);
	pkix_free(&ix);
}

/* Keys all in a few neighbouring home slots, the run wrapping around the end of the table:
 * found by search for keys whose home is the last slots, and a removal anywhere in the run. */
static void test_delete_in_a_run_that_wraps(void **state)
{
	struct pkix ix = {0};
	size_t picked[8], n = 0;

	(void)state;
	/* a table of 16 slots: the first put sets the hash key, then pick keys homed at 14 or 15 */
	randombytes_buf(keys[0], PKIX_KEY);
	assert_int_equal(pkix_put(&ix, keys[0], key_at), 0);
	assert_int_equal(ix.cap, 16);
	pkix_del(&ix, keys[0], key_at);
	for (size_t i = 1; i < N && n < 7; i++) {
		randombytes_buf(keys[i], PKIX_KEY);
		if (pkix_home(&ix, keys[i]) >= 14)
			picked[n++] = i;
	}
	assert_int_equal(n, 7);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(pkix_put(&ix, keys[picked[k]], key_at), 0);
	assert_int_equal(ix.cap, 16); /* 7 of 16: no growth, the run wraps into slots 0.. */
	for (size_t gone = 0; gone < n; gone++) {
		pkix_del(&ix, keys[picked[gone]], key_at);
		for (size_t k = 0; k < n; k++)
			assert_ptr_equal(pkix_get(&ix, keys[picked[k]], key_at),
					 k <= gone ? NULL : keys[picked[k]]);
	}
	assert_int_equal(ix.n, 0);
	pkix_free(&ix);
}

static void apply(struct buddy_buddies *bs, msgpack_sbuffer *sb, uint64_t type)
{
	msgpack_unpacked u;
	const msgpack_object *a;

	msgpack_unpacked_init(&u);
	assert_int_equal(buddy_mp_decode((const uint8_t *)sb->data, sb->size,
					 &(struct buddy_mp_limits){.max_bytes = 1 << 20,
								   .max_depth = 8,
								   .max_objects = 1 << 16},
					 &u),
			 0);
	a = u.data.via.array.ptr;
	assert_int_equal(buddy_buddies_apply(bs, type, a[1].via.i64, &a[2]), 0);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_clear(sb);
}

static void test_buddies_by_pk(void **state)
{
	struct buddy_buddies *bs = buddy_buddies_new();
	msgpack_sbuffer sb;
	uint8_t other[32];
	char name[16];

	(void)state;
	make_keys();
	msgpack_sbuffer_init(&sb);
	assert_null(buddy_buddies_by_pk(bs, keys[0]));
	for (size_t i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "b%zu", i);
		assert_int_equal(buddy_buddies_make_add(&sb, 1700000000, keys[i], name, NULL, 0),
				 0);
		apply(bs, &sb, BUDDY_REC_BUDDY_ADD);
	}
	for (size_t i = 0; i < 300; i++) {
		struct buddy_buddy *b = buddy_buddies_by_pk(bs, keys[i]);
		assert_non_null(b);
		assert_ptr_equal(b, buddy_buddies_at(bs, i)); /* the array grew: still right */
		assert_memory_equal(b->pk, keys[i], 32);
	}
	randombytes_buf(other, sizeof(other));
	assert_null(buddy_buddies_by_pk(bs, other));

	/* revoked: still found (its key stays refused); paired again: the same entry, active */
	assert_int_equal(buddy_buddies_make_revoke(&sb, 1700000001, keys[7], false), 0);
	apply(bs, &sb, BUDDY_REC_BUDDY_REVOKE);
	assert_true(buddy_buddies_by_pk(bs, keys[7])->revoked);
	assert_int_equal(buddy_buddies_make_add(&sb, 1700000002, keys[7], "again", NULL, 0), 0);
	apply(bs, &sb, BUDDY_REC_BUDDY_ADD);
	assert_ptr_equal(buddy_buddies_by_pk(bs, keys[7]), buddy_buddies_at(bs, 7));
	assert_false(buddy_buddies_by_pk(bs, keys[7])->revoked);
	assert_string_equal(buddy_buddies_by_pk(bs, keys[7])->name, "again");
	assert_int_equal(buddy_buddies_count(bs), 300);

	msgpack_sbuffer_destroy(&sb);
	buddy_buddies_free(bs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_and_absent),
		cmocka_unit_test(test_delete_keeps_the_others),
		cmocka_unit_test(test_delete_in_a_run_that_wraps),
		cmocka_unit_test(test_buddies_by_pk),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
