/* The control API's MessagePack-RPC envelope (proto/CONTROL.md): request
 * [0, msgid, method, [params]], response [1, msgid, error, result], notification
 * [2, method, [params]]. Method bodies are packed and read by their owners. */
#ifndef BUDDY_RPC_H
#define BUDDY_RPC_H

#include <msgpack.h>
#include <stdint.h>

#define BUDDY_RPC_REQUEST     0
#define BUDDY_RPC_RESPONSE    1
#define BUDDY_RPC_NOTIFY      2
#define BUDDY_CONTROL_VERSION 1

/* Packs [0, msgid, method, [ ...: the caller then packs exactly one params map. */
int buddy_rpc_pack_request_head(msgpack_packer *pk, uint32_t msgid, const char *method);

/* Packs [1, msgid, nil, ...: the caller then packs exactly one result object. */
int buddy_rpc_pack_result_head(msgpack_packer *pk, uint32_t msgid);

/* Packs a whole error response [1, msgid, {code, message}, nil]. code is a positive error code
 * (-buddy_err). */
int buddy_rpc_pack_error(msgpack_packer *pk, uint32_t msgid, int code, const char *message);

struct buddy_rpc_request {
	uint32_t msgid;
	const char *method;
	size_t method_len;
	const msgpack_object *params; /* the params map, or NULL when params is [] */
};

/* Reads a request envelope. BUDDY_E_INVALID when it is not one; *msgid_known tells whether
 * the msgid could be read (so an error response can name it). */
int buddy_rpc_parse_request(const msgpack_object *o, struct buddy_rpc_request *req,
			    int *msgid_known);

struct buddy_rpc_response {
	uint32_t msgid;
	int code;	     /* 0, or the error's positive code */
	const char *message; /* error message, when code != 0 */
	size_t message_len;
	const msgpack_object *result; /* when code == 0 */
};

int buddy_rpc_parse_response(const msgpack_object *o, struct buddy_rpc_response *res);

#endif
