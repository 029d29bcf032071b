/* Creates a buddy home without passphrase holding N journal entries (one commitment, N
 * check-ins and notes), written straight through the store in large batches, so benchmarks can
 * measure a daemon that starts on a big journal. Usage: bench_fill HOME N */
#include "buddy/error.h"
#include "buddy/home.h"
#include "buddy/journal.h"
#include "buddy/keys.h"
#include "buddy/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 10000

static int add(struct buddy_store *s, struct buddy_journal *j, msgpack_sbuffer *rec)
{
	int rc = buddy_journal_apply(j, (const uint8_t *)rec->data, rec->size);

	if (rc == 0)
		rc = buddy_store_stage(s, (const uint8_t *)rec->data, rec->size);
	msgpack_sbuffer_clear(rec);
	if (rc == 0 && buddy_store_staged(s) >= BATCH) {
		struct buddy_store_batch *b = buddy_store_take(s);
		rc = buddy_store_write(s, b);
		buddy_store_batch_free(b);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct buddy_commit_spec c = {.id = "run",
				      .title = "Run 3 times a week",
				      .cadence = {.kind = BUDDY_CADENCE_WEEKLY, .n = 3},
				      .tz = "UTC"};
	struct buddy_secrets *sec = NULL;
	struct buddy_journal *j = buddy_journal_new();
	struct buddy_store *s = NULL;
	struct buddy_store_batch *b;
	msgpack_sbuffer rec;
	struct buddy_home h;
	const char *why = "";
	long n;
	int rc;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: bench_fill HOME N\n");
		return 2;
	}
	if (sodium_init() < 0 || setenv("BUDDY_HOME", argv[1], 1) || buddy_home_resolve(&h) ||
	    buddy_home_create(&h) || buddy_keys_create(h.keys, NULL, 0, BUDDY_KDF_NONE, &sec) ||
	    buddy_store_open(h.journal, sec->data_key, NULL, NULL, &s, NULL)) {
		fprintf(stderr, "cannot create a home at %s\n", argv[1]);
		return 1;
	}
	msgpack_sbuffer_init(&rec);
	rc = buddy_journal_make_commit_add(j, &c, 1700000000, &rec, &why) || add(s, j, &rec);
	for (long i = 0; i < n && !rc; i++) {
		char text[160];
		uint64_t id;
		struct buddy_entry_spec e = {
			.kind = i % 2 ? BUDDY_ENTRY_NOTE : BUDDY_ENTRY_CHECKIN,
			.commit = "run",
			.text = text,
		};
		if (e.kind == BUDDY_ENTRY_CHECKIN)
			e.status = BUDDY_CHECKIN_DONE; /* a note has none */
		e.text_len = (size_t)snprintf(text, sizeof(text),
					      "entry %ld: a typical line of a journal, about a "
					      "hundred bytes long, like most check-in notes",
					      i);
		rc = buddy_journal_make_entry(j, &e, 1700000000 + i * 60, &rec, &id, &why) ||
		     add(s, j, &rec);
	}
	b = buddy_store_take(s);
	if (!rc && b)
		rc = buddy_store_write(s, b);
	buddy_store_batch_free(b);
	printf("%s: %llu records\n", rc ? "failed" : "filled",
	       (unsigned long long)buddy_journal_nrecords(j));
	if (rc)
		fprintf(stderr, "bench_fill: %s\n", why[0] ? why : "a write to the store failed");
	msgpack_sbuffer_destroy(&rec);
	buddy_store_close(s);
	buddy_journal_free(j);
	buddy_secrets_free(sec);
	return rc ? 1 : 0;
}
