/* libFuzzer target for journal replay: the input is a sequence of records, each a 2-byte
 * big-endian length and that many bytes, applied in order to one journal. Any bytes must give
 * 0 or an error per record, a journal whose invariants hold, and no leak. Seeds (records made
 * by the makers) are in corpus/journal/. */
#include "buddy/error.h"
#include "buddy/journal.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

static void check_invariants(const struct buddy_journal *j)
{
	size_t nc = buddy_journal_ncommits(j), ne = buddy_journal_nentries(j);
	const uint32_t *order = buddy_journal_time_order(j);
	uint64_t checkins = 0, counted = 0;

	for (size_t i = 0; i < nc; i++) {
		const struct buddy_commitment *c = buddy_journal_commit_at(j, i);

		if (!c->id[0] || !c->title || !c->title[0] || !c->tz[0] ||
		    buddy_journal_commit_find(j, c->id, NULL) != c)
			__builtin_trap();
		checkins += c->checkins;
	}
	for (size_t i = 0; i < ne; i++) {
		const struct buddy_entry *e = buddy_journal_entry_at(j, i);

		if (!e->text || e->id == 0 || e->commit > nc || e->ntags > BUDDY_TAGS_MAX ||
		    e->time < 0)
			__builtin_trap();
		if (i > 0 && buddy_journal_entry_at(j, i - 1)->id >= e->id)
			__builtin_trap();
		if (e->kind == BUDDY_ENTRY_CHECKIN) {
			if (e->commit == 0)
				__builtin_trap();
			counted++;
		}
		for (size_t k = 0; k < e->ntags; k++) {
			if (!e->tags[k][0] || strlen(e->tags[k]) > BUDDY_TAG_MAX)
				__builtin_trap();
		}
		if (order[i] >= ne)
			__builtin_trap();
		if (i > 0) {
			const struct buddy_entry *p = buddy_journal_entry_at(j, order[i - 1]);
			const struct buddy_entry *q = buddy_journal_entry_at(j, order[i]);

			if (p->time > q->time || (p->time == q->time && p->id >= q->id))
				__builtin_trap();
		}
	}
	if (checkins != counted)
		__builtin_trap();
}

/* Whatever the history, a note made now can be applied. */
static void check_maker_agrees(struct buddy_journal *j)
{
	struct buddy_entry_spec s = {.kind = BUDDY_ENTRY_NOTE, .text = "fuzz", .text_len = 4};
	size_t ne = buddy_journal_nentries(j);
	msgpack_sbuffer rec;
	const char *why;
	uint64_t id;

	if (ne && buddy_journal_entry_at(j, ne - 1)->id == UINT64_MAX)
		return; /* ids are exhausted; unreachable with real records */
	msgpack_sbuffer_init(&rec);
	if (buddy_journal_make_entry(j, &s, 1700000000, &rec, &id, &why) != 0 ||
	    buddy_journal_apply(j, (const uint8_t *)rec.data, rec.size) != 0)
		__builtin_trap();
	msgpack_sbuffer_destroy(&rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buddy_journal *j = buddy_journal_new();
	uint64_t applied = 0;

	if (!j)
		return 0;
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1];
		uint8_t *rec;
		int rc;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* an exact copy, so that reading past the record is caught */
		rec = malloc(len ? len : 1);
		if (!rec)
			break;
		memcpy(rec, data, len);
		rc = buddy_journal_apply(j, rec, len);
		free(rec);
		if (rc == 0)
			applied++;
		else if (rc != BUDDY_E_CORRUPT && rc != BUDDY_E_VERSION && rc != BUDDY_E_NOMEM)
			__builtin_trap();
		if (buddy_journal_nrecords(j) != applied)
			__builtin_trap();
		data += len;
		size -= len;
	}
	check_invariants(j);
	check_maker_agrees(j);
	check_invariants(j);
	buddy_journal_free(j);
	return 0;
}
