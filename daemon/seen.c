/* What the share streams mean, both ways (see buddy/seen.h and proto/PROTOCOL.md section 15.3).
 *
 * State, all in memory and rebuilt from the log on every start:
 * - per buddy (a short array: buddies are few): their commitments (first-announced order), their
 *   entries (stream order), my reactions to their entries grouped by their entry id, and how
 *   many of their posts did not read;
 * - per entry of mine that went to anyone: the buddies it went to (shares) and the buddies'
 *   reactions to it.
 * Everything looked up by an entry id goes through a hash index, so a journal page asking about
 * 1000 entries among a million costs 1000 probes, not a scan. Entry ids come from the network,
 * so the index hashes them with SipHash under a random key: a buddy cannot pick ids that all
 * land in one bucket. Reactions to my entries are kept only for an entry I sent to that buddy,
 * so what a buddy can make us store is bounded by what we sent it. */
#include "buddy/seen.h"
#include "buddy/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- an index from a 64-bit key to a position in an array ---- */

struct ix_slot {
	uint64_t key;
	size_t pos; /* position + 1; 0: an empty slot */
};

/* Open addressing, linear probing, never more than half full (so a probe always ends at an
 * empty slot), never shrinks: nothing indexed here is ever removed. */
struct ix {
	struct ix_slot *s;
	size_t cap, n; /* cap is 0 or a power of two */
};

static uint64_t sip(const uint8_t *hk, const void *in, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h = 0;

	crypto_shorthash(out, in, len, hk);
	for (size_t i = 0; i < sizeof(out); i++)
		h = h << 8 | out[i];
	return h;
}

static size_t ix_home(const uint8_t *hk, uint64_t key, size_t cap)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(key >> (56 - 8 * i));
	return (size_t)sip(hk, b, sizeof(b)) & (cap - 1);
}

/* The position of key plus one, or 0 when it is not indexed. */
static size_t ix_get(const struct ix *ix, const uint8_t *hk, uint64_t key)
{
	if (!ix->cap)
		return 0;
	for (size_t i = ix_home(hk, key, ix->cap);; i = (i + 1) & (ix->cap - 1)) {
		if (!ix->s[i].pos || ix->s[i].key == key)
			return ix->s[i].pos;
	}
}

static void ix_place(struct ix_slot *s, size_t cap, const uint8_t *hk, uint64_t key, size_t pos1)
{
	size_t i = ix_home(hk, key, cap);

	while (s[i].pos)
		i = (i + 1) & (cap - 1);
	s[i].key = key;
	s[i].pos = pos1;
}

/* Indexes key (not yet in the index) at pos. On failure the index is unchanged. */
static int ix_put(struct ix *ix, const uint8_t *hk, uint64_t key, size_t pos)
{
	if ((ix->n + 1) * 2 > ix->cap) {
		size_t ncap = ix->cap ? ix->cap * 2 : 16;
		struct ix_slot *ns;

		if (ncap > SIZE_MAX / sizeof(*ns) || !(ns = calloc(ncap, sizeof(*ns))))
			return BUDDY_E_NOMEM;
		for (size_t i = 0; i < ix->cap; i++)
			if (ix->s[i].pos)
				ix_place(ns, ncap, hk, ix->s[i].key, ix->s[i].pos);
		free(ix->s);
		ix->s = ns;
		ix->cap = ncap;
	}
	ix_place(ix->s, ix->cap, hk, key, pos + 1);
	ix->n++;
	return 0;
}

static void ix_free(struct ix *ix)
{
	free(ix->s);
	memset(ix, 0, sizeof(*ix));
}

/* ---- state ---- */

/* My reactions to one of a buddy's entries. */
struct theirs {
	uint64_t e;
	struct buddy_seen_reaction *r;
	size_t nr, capr;
};

/* One of my entries that went to at least one buddy: to whom, and what they said about it. */
struct mine {
	uint64_t e;
	struct buddy_seen_share *sh;
	size_t nsh, capsh;
	struct buddy_seen_reaction *r;
	size_t nr, capr;
};

struct peer {
	uint8_t pk[32];
	uint64_t unreadable;
	struct buddy_seen_commitment *c;
	size_t nc, capc;
	struct ix cix; /* SipHash of the id -> commitment */
	struct buddy_seen_entry *en;
	size_t nen, capen;
	struct ix eix; /* e -> entry */
	struct theirs *th;
	size_t nth, capth;
	struct ix thix; /* e -> my reactions to it */
};

struct buddy_seen {
	uint8_t hk[crypto_shorthash_KEYBYTES]; /* the index hash key, random per view */
	struct peer *p;
	size_t np, capp;
	struct mine *m;
	size_t nm, capm;
	struct ix mix; /* e -> mine */
};

/* The text of a retracted entry: a shared empty string, never written or freed, so that a
 * retraction cannot fail for want of memory. */
static char retracted_text[1];

/* Room for need elements in an array of capacity *cap: the array (moved, maybe), or NULL with
 * the old one untouched. Starts small: most per-entry groups hold one or two elements. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return p;
	ncap = *cap ? *cap : 1;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return NULL;
		ncap *= 2;
	}
	np = realloc(p, ncap * elem);
	if (np)
		*cap = ncap;
	return np;
}

/* Wiping relies on strlen: dup_text refuses text with a NUL inside (the readers refuse control
 * characters anyway), so strlen covers every byte that was copied. */
static void wipe_free(char *s)
{
	if (s && s != retracted_text) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static char *dup_text(const char *p, size_t len)
{
	char *s;

	if (len == SIZE_MAX || (len && memchr(p, 0, len)) || !(s = malloc(len + 1)))
		return NULL;
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static void entry_clear(struct buddy_seen_entry *x)
{
	wipe_free(x->text);
	for (size_t i = 0; i < x->ntags; i++)
		wipe_free(x->tags[i]);
	free(x->tags);
	sodium_memzero(x, sizeof(*x));
}

static void reactions_free(struct buddy_seen_reaction *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wipe_free(r[i].text);
	free(r);
}

static void peer_clear(struct peer *p)
{
	for (size_t i = 0; i < p->nc; i++) {
		wipe_free(p->c[i].title);
		sodium_memzero(&p->c[i], sizeof(p->c[i]));
	}
	free(p->c);
	for (size_t i = 0; i < p->nen; i++)
		entry_clear(&p->en[i]);
	free(p->en);
	for (size_t i = 0; i < p->nth; i++)
		reactions_free(p->th[i].r, p->th[i].nr);
	free(p->th);
	ix_free(&p->cix);
	ix_free(&p->eix);
	ix_free(&p->thix);
}

struct buddy_seen *buddy_seen_new(void)
{
	struct buddy_seen *v;

	/* the index key comes from libsodium's generator; sodium_init is idempotent */
	if (sodium_init() < 0 || !(v = calloc(1, sizeof(*v))))
		return NULL;
	randombytes_buf(v->hk, sizeof(v->hk));
	return v;
}

void buddy_seen_free(struct buddy_seen *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->np; i++)
		peer_clear(&v->p[i]);
	free(v->p);
	for (size_t i = 0; i < v->nm; i++) {
		free(v->m[i].sh);
		reactions_free(v->m[i].r, v->m[i].nr);
	}
	free(v->m);
	ix_free(&v->mix);
	sodium_memzero(v, sizeof(*v));
	free(v);
}

/* ---- lookups ---- */

static const struct peer *peer_find(const struct buddy_seen *v, const uint8_t pk[32])
{
	for (size_t i = 0; i < v->np; i++)
		if (memcmp(v->p[i].pk, pk, 32) == 0)
			return &v->p[i];
	return NULL;
}

static struct peer *peer_get(struct buddy_seen *v, const uint8_t pk[32])
{
	struct peer *p = (struct peer *)peer_find(v, pk);

	if (p)
		return p;
	if (!(p = grow(v->p, &v->capp, v->np + 1, sizeof(*v->p))))
		return NULL;
	v->p = p;
	p = &v->p[v->np++];
	memset(p, 0, sizeof(*p));
	memcpy(p->pk, pk, 32);
	return p;
}

/* A commitment id is indexed by its SipHash. Two ids with one hash (never seen in practice,
 * and a buddy cannot aim for it without the key) are still found: the second is left out of
 * the index and a mismatch falls back to a scan. */
static uint64_t commit_key(const struct buddy_seen *v, const char *id)
{
	return sip(v->hk, id, strlen(id));
}

static struct buddy_seen_commitment *commit_find(const struct buddy_seen *v, struct peer *p,
						 const char *id)
{
	size_t pos = ix_get(&p->cix, v->hk, commit_key(v, id));

	if (!pos)
		return NULL;
	if (strcmp(p->c[pos - 1].id, id) == 0)
		return &p->c[pos - 1];
	for (size_t i = 0; i < p->nc; i++)
		if (strcmp(p->c[i].id, id) == 0)
			return &p->c[i];
	return NULL;
}

static const struct buddy_seen_entry *entry_find(const struct buddy_seen *v, const struct peer *p,
						 uint64_t e)
{
	size_t pos = ix_get(&p->eix, v->hk, e);

	return pos ? &p->en[pos - 1] : NULL;
}

static struct mine *mine_find(const struct buddy_seen *v, uint64_t e)
{
	size_t pos = ix_get(&v->mix, v->hk, e);

	return pos ? &v->m[pos - 1] : NULL;
}

static struct theirs *theirs_find(const struct buddy_seen *v, const struct peer *p, uint64_t e)
{
	size_t pos = ix_get(&p->thix, v->hk, e);

	return pos ? &p->th[pos - 1] : NULL;
}

static struct buddy_seen_share *share_find(const struct mine *m, const uint8_t pk[32])
{
	for (size_t i = 0; i < m->nsh; i++)
		if (memcmp(m->sh[i].pk, pk, 32) == 0)
			return &m->sh[i];
	return NULL;
}

/* ---- adding ---- */

static struct mine *mine_get(struct buddy_seen *v, uint64_t e)
{
	struct mine *m = mine_find(v, e);

	if (m)
		return m;
	if (!(m = grow(v->m, &v->capm, v->nm + 1, sizeof(*v->m))))
		return NULL;
	v->m = m;
	if (ix_put(&v->mix, v->hk, e, v->nm))
		return NULL;
	m = &v->m[v->nm++];
	memset(m, 0, sizeof(*m));
	m->e = e;
	return m;
}

static struct theirs *theirs_get(struct buddy_seen *v, struct peer *p, uint64_t e)
{
	struct theirs *t = theirs_find(v, p, e);

	if (t)
		return t;
	if (!(t = grow(p->th, &p->capth, p->nth + 1, sizeof(*p->th))))
		return NULL;
	p->th = t;
	if (ix_put(&p->thix, v->hk, e, p->nth))
		return NULL;
	t = &p->th[p->nth++];
	memset(t, 0, sizeof(*t));
	t->e = e;
	return t;
}

static int reaction_add(struct buddy_seen_reaction **arr, size_t *n, size_t *cap,
			const uint8_t pk[32], uint64_t seq, int64_t time,
			const struct buddy_post_reaction *pr)
{
	struct buddy_seen_reaction *r, *na;
	char *text = dup_text(pr->text, pr->text_len);

	if (!text)
		return BUDDY_E_NOMEM;
	if (!(na = grow(*arr, cap, *n + 1, sizeof(**arr)))) {
		wipe_free(text);
		return BUDDY_E_NOMEM;
	}
	*arr = na;
	r = &na[(*n)++];
	memcpy(r->pk, pk, 32);
	r->e = pr->e;
	r->seq = seq;
	r->kind = pr->kind;
	r->text = text;
	r->time = time;
	return 0;
}

/* ---- incoming: buddy p's posts to me ---- */

static int in_commitment(struct buddy_seen *v, struct peer *p, int64_t time,
			 const msgpack_object *body)
{
	struct buddy_post_commitment pc;
	struct buddy_seen_commitment *c, *na;
	uint64_t key;
	char *title;

	if (buddy_post_read_commitment(body, &pc))
		return BUDDY_E_INVALID;
	if (!(title = dup_text(pc.title, pc.title_len)))
		return BUDDY_E_NOMEM;
	if (!(c = commit_find(v, p, pc.id))) {
		/* a new id: appended, so the array keeps the order of first announcement */
		if (!(na = grow(p->c, &p->capc, p->nc + 1, sizeof(*p->c)))) {
			wipe_free(title);
			return BUDDY_E_NOMEM;
		}
		p->c = na;
		key = commit_key(v, pc.id);
		if (!ix_get(&p->cix, v->hk, key) && ix_put(&p->cix, v->hk, key, p->nc)) {
			wipe_free(title);
			return BUDDY_E_NOMEM;
		}
		c = &p->c[p->nc++];
		memset(c, 0, sizeof(*c));
		memcpy(c->id, pc.id, sizeof(c->id));
		c->first = time;
		c->since = time;
	}
	/* shared again after a stop: the time between is nobody's to judge */
	if (pc.on && !c->on && c->updated)
		c->since = time;
	/* the newest post is the whole state: nothing of the old one survives but the position */
	wipe_free(c->title);
	c->title = title;
	c->cadence = pc.cadence;
	memcpy(c->tz, pc.tz, sizeof(c->tz));
	c->created = pc.created;
	c->archived = pc.archived;
	c->on = pc.on;
	c->updated = time;
	return 0;
}

/* Fills x from a read entry, copying every string; on failure x holds nothing. */
static int entry_build(struct buddy_seen_entry *x, const struct buddy_post_entry *pe,
		       enum buddy_post_type kind, uint64_t seq, int64_t time)
{
	memset(x, 0, sizeof(*x));
	x->e = pe->e;
	x->seq = seq;
	x->at = pe->at;
	x->posted = time;
	x->kind = kind;
	x->status = pe->status;
	memcpy(x->commit, pe->commit, sizeof(x->commit));
	x->has_value = pe->has_value;
	x->value = pe->value;
	memcpy(x->unit, pe->unit, sizeof(x->unit));
	if (!(x->text = dup_text(pe->text, pe->text_len)))
		goto fail;
	if (pe->ntags) {
		if (!(x->tags = calloc(pe->ntags, sizeof(*x->tags))))
			goto fail;
		for (; x->ntags < pe->ntags; x->ntags++)
			if (!(x->tags[x->ntags] =
				      dup_text(pe->tags[x->ntags], pe->tag_lens[x->ntags])))
				goto fail;
	}
	return 0;
fail:
	entry_clear(x);
	return BUDDY_E_NOMEM;
}

static int in_entry(struct buddy_seen *v, struct peer *p, enum buddy_post_type kind, uint64_t seq,
		    int64_t time, const msgpack_object *body)
{
	struct buddy_post_entry pe;
	struct buddy_seen_entry x, *na;
	size_t pos;

	if (buddy_post_read_entry(body, kind == BUDDY_POST_CHECKIN, &pe))
		return BUDDY_E_INVALID;
	if (entry_build(&x, &pe, kind, seq, time))
		return BUDDY_E_NOMEM;
	pos = ix_get(&p->eix, v->hk, pe.e);
	if (pos) {
		/* the same e again (an honest author never does it): the newer post wins whole,
		 * retraction included, and the entry keeps its place in the stream order */
		entry_clear(&p->en[pos - 1]);
		p->en[pos - 1] = x;
		return 0;
	}
	if (!(na = grow(p->en, &p->capen, p->nen + 1, sizeof(*p->en))))
		goto nomem;
	p->en = na;
	if (ix_put(&p->eix, v->hk, pe.e, p->nen))
		goto nomem;
	p->en[p->nen++] = x;
	return 0;
nomem:
	entry_clear(&x);
	return BUDDY_E_NOMEM;
}

/* Section 15.3: the recipient keeps only that entry e existed and when it was retracted. The
 * kind and the post that brought it stay (they say nothing the author wrote); what it was
 * about (commitment, time, status, value, text, tags) goes. */
static int in_retraction(struct buddy_seen *v, struct peer *p, int64_t time,
			 const msgpack_object *body)
{
	struct buddy_seen_entry *x;
	uint64_t e;
	size_t pos;

	if (buddy_post_read_retraction(body, &e))
		return BUDDY_E_INVALID;
	if (!(pos = ix_get(&p->eix, v->hk, e)))
		return 0; /* nothing of that id reached us: nothing to wipe */
	x = &p->en[pos - 1];
	wipe_free(x->text);
	x->text = retracted_text;
	for (size_t i = 0; i < x->ntags; i++)
		wipe_free(x->tags[i]);
	free(x->tags);
	x->tags = NULL;
	x->ntags = 0;
	sodium_memzero(x->commit, sizeof(x->commit));
	sodium_memzero(x->unit, sizeof(x->unit));
	sodium_memzero(&x->value, sizeof(x->value));
	x->has_value = false;
	x->at = 0;
	x->status = 0;
	if (!x->retracted) /* the first retraction is when it was retracted */
		x->retracted = time;
	return 0;
}

/* A reaction to my entry e counts only if I sent e to this buddy: otherwise the buddy could
 * make us keep reactions to any number of ids. */
static int in_reaction(struct buddy_seen *v, struct peer *p, uint64_t seq, int64_t time,
		       const msgpack_object *body)
{
	struct buddy_post_reaction pr;
	struct mine *m;

	if (buddy_post_read_reaction(body, &pr))
		return BUDDY_E_INVALID;
	if (!(m = mine_find(v, pr.e)) || !share_find(m, p->pk))
		return 0;
	return reaction_add(&m->r, &m->nr, &m->capr, p->pk, seq, time, &pr);
}

static int in_post(struct buddy_seen *v, struct peer *p, uint64_t seq,
		   const struct buddy_post_head *h, const msgpack_object *body)
{
	switch (h->type) {
	case BUDDY_POST_COMMITMENT:
		return in_commitment(v, p, h->time, body);
	case BUDDY_POST_CHECKIN:
	case BUDDY_POST_NOTE:
		return in_entry(v, p, (enum buddy_post_type)h->type, seq, h->time, body);
	case BUDDY_POST_RETRACTION:
		return in_retraction(v, p, h->time, body);
	case BUDDY_POST_REACTION:
		return in_reaction(v, p, seq, h->time, body);
	case BUDDY_POST_PAUSE: {
		struct buddy_post_pause pa; /* kept by pauses.c; here only checked */
		return buddy_post_read_pause(body, &pa);
	}
	default:
		return BUDDY_E_VERSION;
	}
}

/* ---- outgoing: my posts to buddy p ---- */

/* One share per (e, buddy): posting e to the same buddy again moves the share to the newer
 * post and makes it current again. */
static int out_entry(struct buddy_seen *v, struct peer *p, bool checkin, uint64_t seq,
		     const msgpack_object *body)
{
	struct buddy_post_entry pe;
	struct buddy_seen_share *s;
	struct mine *m;

	if (buddy_post_read_entry(body, checkin, &pe))
		return BUDDY_E_INVALID;
	if (!(m = mine_get(v, pe.e)))
		return BUDDY_E_NOMEM;
	if (!(s = share_find(m, p->pk))) {
		if (!(s = grow(m->sh, &m->capsh, m->nsh + 1, sizeof(*m->sh))))
			return BUDDY_E_NOMEM;
		m->sh = s;
		s = &m->sh[m->nsh++];
		memcpy(s->pk, p->pk, 32);
	}
	s->seq = seq;
	s->retracted = 0;
	return 0;
}

static int out_retraction(struct buddy_seen *v, struct peer *p, int64_t time,
			  const msgpack_object *body)
{
	struct buddy_seen_share *s;
	struct mine *m;
	uint64_t e;

	if (buddy_post_read_retraction(body, &e))
		return BUDDY_E_INVALID;
	if ((m = mine_find(v, e)) && (s = share_find(m, p->pk)) && !s->retracted)
		s->retracted = time;
	return 0;
}

static int out_reaction(struct buddy_seen *v, struct peer *p, uint64_t seq, int64_t time,
			const msgpack_object *body)
{
	struct buddy_post_reaction pr;
	struct theirs *t;

	if (buddy_post_read_reaction(body, &pr))
		return BUDDY_E_INVALID;
	if (!(t = theirs_get(v, p, pr.e)))
		return BUDDY_E_NOMEM;
	return reaction_add(&t->r, &t->nr, &t->capr, p->pk, seq, time, &pr);
}

static int out_post(struct buddy_seen *v, struct peer *p, uint64_t seq,
		    const struct buddy_post_head *h, const msgpack_object *body)
{
	switch (h->type) {
	case BUDDY_POST_CHECKIN:
	case BUDDY_POST_NOTE:
		return out_entry(v, p, h->type == BUDDY_POST_CHECKIN, seq, body);
	case BUDDY_POST_RETRACTION:
		return out_retraction(v, p, h->time, body);
	case BUDDY_POST_REACTION:
		return out_reaction(v, p, seq, h->time, body);
	default:
		return 0; /* commitments: streams.c tracks what is shared with whom */
	}
}

/* ---- the post callback ---- */

/* A post that does not read stays in the chain (section 15.3) and is only counted. Failures of
 * my own posts are not the buddy's doing and are not counted, except running out of memory:
 * that loses part of the view, and the count is the one place it shows. */
void buddy_seen_post(void *arg, bool outgoing, const uint8_t pk[32], uint64_t seq, int64_t written,
		     const uint8_t *post, size_t len)
{
	struct buddy_seen *v = arg;
	struct buddy_post_head h;
	const msgpack_object *body;
	msgpack_unpacked u;
	struct peer *p;
	int err;

	(void)written; /* a post means what it says at its own time, not when we stored it */
	if (!(p = peer_get(v, pk)))
		return; /* out of memory before there is anywhere to count it */
	msgpack_unpacked_init(&u);
	if (buddy_post_decode(post, len, &u, &h, &body))
		err = BUDDY_E_INVALID;
	else
		err = outgoing ? out_post(v, p, seq, &h, body) : in_post(v, p, seq, &h, body);
	msgpack_unpacked_destroy(&u);
	if (err && (!outgoing || err == BUDDY_E_NOMEM))
		p->unreadable++;
}

/* ---- reading ---- */

uint64_t buddy_seen_unreadable(const struct buddy_seen *v, const uint8_t pk[32])
{
	const struct peer *p = peer_find(v, pk);

	return p ? p->unreadable : 0;
}

size_t buddy_seen_ncommits(const struct buddy_seen *v, const uint8_t pk[32])
{
	const struct peer *p = peer_find(v, pk);

	return p ? p->nc : 0;
}

const struct buddy_seen_commitment *buddy_seen_commit_at(const struct buddy_seen *v,
							 const uint8_t pk[32], size_t i)
{
	const struct peer *p = peer_find(v, pk);

	return p && i < p->nc ? &p->c[i] : NULL;
}

size_t buddy_seen_nentries(const struct buddy_seen *v, const uint8_t pk[32])
{
	const struct peer *p = peer_find(v, pk);

	return p ? p->nen : 0;
}

const struct buddy_seen_entry *buddy_seen_entry_at(const struct buddy_seen *v, const uint8_t pk[32],
						   size_t i)
{
	const struct peer *p = peer_find(v, pk);

	return p && i < p->nen ? &p->en[i] : NULL;
}

const struct buddy_seen_entry *buddy_seen_entry_find(const struct buddy_seen *v,
						     const uint8_t pk[32], uint64_t e)
{
	const struct peer *p = peer_find(v, pk);

	return p ? entry_find(v, p, e) : NULL;
}

const struct buddy_seen_reaction *buddy_seen_reactions_to_mine(const struct buddy_seen *v,
							       uint64_t e, size_t *n)
{
	const struct mine *m = mine_find(v, e);

	*n = m ? m->nr : 0;
	return *n ? m->r : NULL;
}

const struct buddy_seen_reaction *buddy_seen_reactions_to_theirs(const struct buddy_seen *v,
								 const uint8_t pk[32], uint64_t e,
								 size_t *n)
{
	const struct peer *p = peer_find(v, pk);
	const struct theirs *t = p ? theirs_find(v, p, e) : NULL;

	*n = t ? t->nr : 0;
	return *n ? t->r : NULL;
}

const struct buddy_seen_share *buddy_seen_shares_of(const struct buddy_seen *v, uint64_t e,
						    size_t *n)
{
	const struct mine *m = mine_find(v, e);

	*n = m ? m->nsh : 0;
	return *n ? m->sh : NULL;
}
