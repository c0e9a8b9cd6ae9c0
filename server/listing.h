/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>

#include "common/error.h"
#include "grpc.h"
#include "store.h"

/* What the List and Stream calls of pods, containers and their stats share: selecting and filling items on the
 * call, and sending a list as a stream in bounded chunks. */

/* Items per message of a streamed list: well below any message size limit even with large label sets. */
#define SRV_STREAM_CHUNK 100

/* Whether id starts with the filter's id prefix (none or "" keeps every id). */
static inline bool srv_id_prefix_match(const char *id, const char *prefix)
{
	return !prefix || !*prefix || strncmp(id, prefix, strlen(prefix)) == 0;
}

/* Whether every entry of the label selector want (n_want) is among the labels have (n_have). The map entry types
 * differ from message to message; all have key and value. Evaluates to a bool. */
#define SRV_LABELS_MATCH(have, n_have, want, n_want)                                                        \
	({                                                                                                  \
		bool all_ = true;                                                                           \
		for (size_t i_ = 0; i_ < (n_want) && all_; i_++) {                                          \
			bool found_ = false;                                                                \
			for (size_t j_ = 0; j_ < (n_have) && !found_; j_++)                                 \
				found_ = strcmp((have)[j_]->key, (want)[i_]->key) == 0 &&                   \
					 strcmp((have)[j_]->value, (want)[i_]->value) == 0;                 \
			all_ = found_;                                                                      \
		}                                                                                           \
		all_;                                                                                       \
	})

typedef bool (*srv_keep_fn)(srv_daemon_t *d, srv_obj_t *o, const void *filter);
/* Fills item (item_size bytes, zeroed) for o on the call's arena: 0, or -ENOMEM. */
typedef int (*srv_fill_fn)(srv_daemon_t *d, srv_call_t *call, srv_obj_t *o, void *item);

/* The objects of s that keep() selects, each filled into an item of item_size on the call (which holds the objects:
 * the items point into them), in *ret (NULL-terminated array of item pointers) and *ret_n. */
int srv_select(srv_daemon_t *d, srv_store_t *s, srv_call_t *call, const void *filter, srv_keep_fn keep,
	       srv_fill_fn fill, size_t item_size, void ***ret, size_t *ret_n, crl_error_t *err);
/* Sends items as messages of type desc, whose first field is the repeated item, SRV_STREAM_CHUNK a message (an
 * empty list is one empty message, so the client always gets an answer), then ends the stream. */
int srv_stream_list(srv_call_t *call, const ProtobufCMessageDescriptor *desc, void **items, size_t n,
		    crl_error_t *err);
