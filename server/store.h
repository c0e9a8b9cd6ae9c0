/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* The daemon's objects in memory (pods; containers later): full ids (64 hex), unique-prefix lookup, kubelet's
 * name reservations. One lock for the indexes, held only for lookups and changes of them; each object has its
 * own locks (see pod.h), so calls on different objects never wait for each other. A handler takes a reference,
 * works, and drops it; an object leaves the store before its last reference goes. */

#define SRV_ID_LEN 64

typedef struct srv_obj srv_obj_t;
struct srv_obj {
	char id[SRV_ID_LEN + 1];
	char *name;    /* the reserved name, or NULL */
	atomic_int refs;
	void (*free)(srv_obj_t *o);
};

typedef struct srv_store srv_store_t;

/* kind names the objects in messages; id_field is the request field that names one (an empty id is
 * INVALID_ARGUMENT "<id_field> is required"). */
int srv_store_new(const char *kind, const char *id_field, srv_store_t **ret, crl_error_t *err);
void srv_store_free(srv_store_t *s);

/* A fresh random id no object of this store has, nor shares a 13-character prefix with. */
void srv_store_new_id(srv_store_t *s, char ret[SRV_ID_LEN + 1]);
/* Reserves name for id. EEXIST when another id holds it: the message names that id. */
int srv_store_reserve(srv_store_t *s, const char *name, const char *id, crl_error_t *err);
void srv_store_release(srv_store_t *s, const char *name, const char *id);
/* Adds o (the store takes a reference). EEXIST when its id is there. */
int srv_store_add(srv_store_t *s, srv_obj_t *o, crl_error_t *err);
/* Reserves o's name for it and adds it (restore); nothing of either stays when one fails. */
int srv_store_insert(srv_store_t *s, srv_obj_t *o, crl_error_t *err);
/* Takes o out of the indexes (dropping the store's reference) and releases the name reserved for it; whether o
 * was in the store (a CreateContainer undone was not). */
bool srv_store_remove(srv_store_t *s, srv_obj_t *o);
/* By full id or unique prefix; a reference for the caller. ENOENT when none, EINVAL naming the candidates when
 * the prefix is ambiguous, EINVAL naming the id field for an empty id. */
int srv_store_get(srv_store_t *s, const char *id, srv_obj_t **ret, crl_error_t *err);
/* Every object, each with a reference for the caller (release with srv_store_list_free). */
int srv_store_list(srv_store_t *s, srv_obj_t ***ret, size_t *ret_n, crl_error_t *err);
void srv_store_list_free(srv_obj_t **v, size_t n);
size_t srv_store_count(srv_store_t *s);

typedef struct srv_call srv_call_t;
/* The call takes o's reference (dropped when the call ends: its answer may point into o). On ENOMEM the
 * reference is dropped at once. */
int srv_call_hold(srv_call_t *call, srv_obj_t *o, crl_error_t *err);
/* Every object, each held by the call until it ends (the list is the call's too). */
int srv_store_list_held(srv_store_t *s, srv_call_t *call, srv_obj_t ***ret, size_t *ret_n, crl_error_t *err);

void srv_obj_ref(srv_obj_t *o);
void srv_obj_unref(srv_obj_t *o);
/* Whether s is a 64-character lowercase hex id. */
bool srv_id_valid(const char *s);
