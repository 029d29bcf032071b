/* Sizes and limits of the journal layer, in one place. Every length read from disk or from the
 * control socket is checked against one of these before it is used. */
#ifndef BUDDY_LIMITS_H
#define BUDDY_LIMITS_H

#define BUDDY_ID_MAX	     32		 /* commitment id (slug) bytes */
#define BUDDY_TITLE_MAX	     200	 /* commitment title bytes */
#define BUDDY_TEXT_MAX	     (64 * 1024) /* entry text bytes */
#define BUDDY_TAG_MAX	     32		 /* one tag's bytes */
#define BUDDY_TAGS_MAX	     16		 /* tags on one entry */
#define BUDDY_UNIT_MAX	     16		 /* unit of a check-in value ("km") */
#define BUDDY_TZ_MAX	     64		 /* IANA time zone name bytes */
#define BUDDY_PASSPHRASE_MAX 1024	 /* passphrase bytes */
#define BUDDY_CADENCE_N_MAX  1000	 /* N in --weekly N / --monthly N */
/* The highest entry id a buddy's HEADS can move my new ids to after a restore (15.11): far
 * above any real journal, exact in a JSON double, and nowhere near wrapping. */
#define BUDDY_ENTRY_ID_MAX (1ULL << 40)
/* After a restore (record 43) new entry ids start this far above the restored journal's last:
 * the lost machine may have made entries after the backup, and a buddy may hold them under
 * their ids; the buddy's HEADS (e) moves them further when that is not enough (15.11). */
#define BUDDY_RESTORE_ID_GAP 100000
/* ... and an e more than this above my newest entry id is ignored (not made by my daemon). */
#define BUDDY_REBASE_E_SLACK (1ULL << 20)

#define BUDDY_STORE_RECORD_MAX	(1024 * 1024)	   /* one record's plaintext */
#define BUDDY_STORE_SEGMENT_MAX (64 * 1024 * 1024) /* a segment is closed past this size */

#define BUDDY_CONTROL_REQUEST_MAX  (1024 * 1024)      /* one control request, bytes */
#define BUDDY_CONTROL_RESPONSE_MAX (64 * 1024 * 1024) /* what a client accepts */
#define BUDDY_CONTROL_DEPTH_MAX	   8		      /* msgpack nesting in a request */
#define BUDDY_CONTROL_CLIENTS_MAX  64		      /* control connections at once */
#define BUDDY_CONTROL_WRITE_HWM                                                                    \
	(8 * 1024 * 1024)		       /* queued reply bytes before a client is dropped */
#define BUDDY_CONTROL_PENDING_MAX 1024	       /* queued answers before a client is dropped */
#define BUDDY_CONTROL_WATCH_HWM	  (256 * 1024) /* unread event bytes before a watcher is dropped */
#define BUDDY_PAGE_MAX		  1000	       /* entries in one journal page */
#define BUDDY_IMPORT_BATCH_MAX	  500	       /* entries in one import request */

/* Peer transport (proto/PROTOCOL.md) */
#define BUDDY_PEER_PORT		 7654		 /* default listen port */
#define BUDDY_PEER_FRAME_MAX	 65535		 /* one Noise message */
#define BUDDY_PEER_HANDSHAKE_MS	 (10 * 1000)	 /* a handshake must finish within this */
#define BUDDY_PEER_UNAUTH_MAX	 64		 /* connections not yet authenticated */
#define BUDDY_PEER_PING_MS	 (30 * 1000)	 /* an idle session is pinged after this */
#define BUDDY_PEER_IDLE_MS	 (90 * 1000)	 /* and dropped after this without a byte */
#define BUDDY_PEER_WRITE_HWM	 (1024 * 1024)	 /* queued bytes before a peer is dropped */
#define BUDDY_PEER_REDIAL_MIN_MS 1000		 /* first redial delay */
#define BUDDY_PEER_REDIAL_MAX_MS (5 * 60 * 1000) /* redial delays double up to this */
#define BUDDY_PEER_ADDRS_MAX	 8		 /* addresses in a hello or an invite */
#define BUDDY_PEER_NAME_MAX	 64		 /* a buddy's local display name */
/* Posts kept of one buddy's stream to me: a buddy (or a stolen key) cannot fill the disk past
 * this; about 40 years of ten posts a day. */
#define BUDDY_STREAM_IN_MAX 150000

#endif
