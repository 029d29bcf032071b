/* MessagePack-RPC envelopes for the control API (see buddy/rpc.h and proto/CONTROL.md). */
#include "buddy/rpc.h"
#include "buddy/error.h"
#include "buddy/mp.h"

int buddy_rpc_pack_request_head(msgpack_packer *pk, uint32_t msgid, const char *method)
{
	if (msgpack_pack_array(pk, 4) || msgpack_pack_uint8(pk, BUDDY_RPC_REQUEST) ||
	    msgpack_pack_uint32(pk, msgid) || buddy_mp_pack_cstr(pk, method) ||
	    msgpack_pack_array(pk, 1))
		return BUDDY_E_NOMEM;
	return 0;
}

int buddy_rpc_pack_result_head(msgpack_packer *pk, uint32_t msgid)
{
	if (msgpack_pack_array(pk, 4) || msgpack_pack_uint8(pk, BUDDY_RPC_RESPONSE) ||
	    msgpack_pack_uint32(pk, msgid) || msgpack_pack_nil(pk))
		return BUDDY_E_NOMEM;
	return 0;
}

int buddy_rpc_pack_error(msgpack_packer *pk, uint32_t msgid, int code, const char *message)
{
	if (msgpack_pack_array(pk, 4) || msgpack_pack_uint8(pk, BUDDY_RPC_RESPONSE) ||
	    msgpack_pack_uint32(pk, msgid) || msgpack_pack_map(pk, 2) ||
	    buddy_mp_pack_cstr(pk, "code") || msgpack_pack_int(pk, code) ||
	    buddy_mp_pack_cstr(pk, "message") || buddy_mp_pack_cstr(pk, message) ||
	    msgpack_pack_nil(pk))
		return BUDDY_E_NOMEM;
	return 0;
}

int buddy_rpc_parse_request(const msgpack_object *o, struct buddy_rpc_request *req,
			    int *msgid_known)
{
	const msgpack_object *a;
	uint64_t type, msgid;

	*msgid_known = 0;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2)
		return BUDDY_E_INVALID;
	a = o->via.array.ptr;
	/* the msgid first, whatever else is wrong: the error answer can then name the request
	 * (proto/CONTROL.md, "Limits and malformed input") */
	if (buddy_mp_uint(&a[1], &msgid) || msgid > UINT32_MAX)
		return BUDDY_E_INVALID;
	req->msgid = (uint32_t)msgid;
	*msgid_known = 1;
	if (o->via.array.size != 4 || buddy_mp_uint(&a[0], &type) || type != BUDDY_RPC_REQUEST)
		return BUDDY_E_INVALID;
	if (buddy_mp_str(&a[2], 64, &req->method, &req->method_len))
		return BUDDY_E_INVALID;
	if (!req->method_len)
		req->method = ""; /* msgpack-c gives NULL for an empty str: never a NULL name */
	/* params: [] or [map]; a bare map is accepted too, as some clients send it */
	if (a[3].type == MSGPACK_OBJECT_MAP) {
		req->params = &a[3];
	} else if (a[3].type == MSGPACK_OBJECT_ARRAY && a[3].via.array.size == 0) {
		req->params = NULL;
	} else if (a[3].type == MSGPACK_OBJECT_ARRAY && a[3].via.array.size == 1 &&
		   a[3].via.array.ptr[0].type == MSGPACK_OBJECT_MAP) {
		req->params = &a[3].via.array.ptr[0];
	} else {
		return BUDDY_E_INVALID;
	}
	return 0;
}

int buddy_rpc_parse_response(const msgpack_object *o, struct buddy_rpc_response *res)
{
	const msgpack_object *a;
	uint64_t type, msgid;
	int64_t code;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
		return BUDDY_E_INVALID;
	a = o->via.array.ptr;
	if (buddy_mp_uint(&a[0], &type) || type != BUDDY_RPC_RESPONSE)
		return BUDDY_E_INVALID;
	if (buddy_mp_uint(&a[1], &msgid) || msgid > UINT32_MAX)
		return BUDDY_E_INVALID;
	res->msgid = (uint32_t)msgid;
	res->code = 0;
	res->message = NULL;
	res->message_len = 0;
	res->result = &a[3];
	if (a[2].type == MSGPACK_OBJECT_NIL)
		return 0;
	if (buddy_mp_int(buddy_mp_get(&a[2], "code"), &code) || code <= 0 || code > 1000000)
		return BUDDY_E_INVALID;
	if (buddy_mp_str(buddy_mp_get(&a[2], "message"), 4096, &res->message, &res->message_len))
		return BUDDY_E_INVALID;
	res->code = (int)code;
	res->result = NULL;
	return 0;
}
