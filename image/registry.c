/* SPDX-License-Identifier: Apache-2.0 */
#include "registry.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "manifest.h"

#define MAX_ERROR_BODY 4096
#define MAX_TOKEN_BODY (1024 * 1024)
#define RETRIES 3

#define MAX_PLAIN_HOSTS 64

struct img_http {
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t lock; /* guards plain_hosts */
	char *plain_hosts[MAX_PLAIN_HOSTS];
	size_t n_plain;
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)h, (void)access;
	pthread_mutex_lock(&((img_http_t *)arg)->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	(void)h;
	pthread_mutex_unlock(&((img_http_t *)arg)->locks[data]);
}

int img_http_new(img_http_t **ret, crl_error_t *err)
{
	img_http_t *h = calloc(1, sizeof(*h));
	if (!h)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->locks[i], NULL);
	pthread_mutex_init(&h->lock, NULL);
	h->share = curl_share_init();
	if (!h->share) {
		img_http_free(h);
		return crl_error_set(err, ENOMEM, "cannot create a curl share");
	}
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*ret = h;
	return 0;
}

void img_http_free(img_http_t *h)
{
	if (!h)
		return;
	if (h->share)
		curl_share_cleanup(h->share);
	for (size_t i = 0; i < h->n_plain; i++)
		free(h->plain_hosts[i]);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->locks[i]);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static bool http_is_plain(img_http_t *h, const char *host)
{
	if (!h)
		return false;
	pthread_mutex_lock(&h->lock);
	bool plain = false;
	for (size_t i = 0; i < h->n_plain && !plain; i++)
		plain = strcmp(h->plain_hosts[i], host) == 0;
	pthread_mutex_unlock(&h->lock);
	return plain;
}

static void http_mark_plain(img_http_t *h, const char *host)
{
	if (!h || http_is_plain(h, host))
		return;
	pthread_mutex_lock(&h->lock);
	if (h->n_plain < MAX_PLAIN_HOSTS) {
		char *c = strdup(host);
		if (c)
			h->plain_hosts[h->n_plain++] = c;
	}
	pthread_mutex_unlock(&h->lock);
}

struct img_conn {
	img_http_t *http;
	char *endpoint;
	char *host; /* host[:port] as connected to */
	char *path; /* repository path on that host */
	bool insecure;
	img_pull_opts_t opts;
	/* copies: the request that gave them may be gone before the layers are */
	char *username, *password, *identity_token, *registry_token;

	pthread_mutex_t lock; /* guards what follows */
	const char *scheme;   /* "https", or "http" once an insecure endpoint turned out to speak it */
	char *authorization;  /* "Bearer ..." or "Basic ..." once known */
};

const char *img_conn_endpoint(const img_conn_t *c)
{
	return c->endpoint;
}

void img_conn_free(img_conn_t *c)
{
	if (!c)
		return;
	free(c->endpoint);
	free(c->host);
	free(c->path);
	free(c->username);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->identity_token);
	free(c->registry_token);
	if (c->authorization)
		explicit_bzero(c->authorization, strlen(c->authorization));
	free(c->authorization);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int img_conn_new(img_http_t *http, const char *endpoint, bool insecure, const img_creds_t *creds,
		 const img_pull_opts_t *opts, img_conn_t **ret, crl_error_t *err)
{
	const char *slash = strchr(endpoint, '/');
	if (!slash || slash == endpoint || !slash[1])
		return crl_error_set(err, EINVAL, "endpoint '%s' has no repository path", endpoint);
	img_conn_t *c = calloc(1, sizeof(*c));
	if (!c)
		return crl_error_set(err, ENOMEM, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	c->endpoint = strdup(endpoint);
	c->host = strndup(endpoint, (size_t)(slash - endpoint));
	c->path = strdup(slash + 1);
	c->insecure = insecure;
	c->http = http;
	c->scheme = "https";
	if (opts)
		c->opts = *opts;
	if (c->host && strcmp(c->host, "docker.io") == 0) {
		free(c->host);
		c->host = strdup(c->opts.docker_io_host ? c->opts.docker_io_host : "registry-1.docker.io");
	}
	if (creds) {
		c->username = dup_or_null(creds->username);
		c->password = dup_or_null(creds->password);
		c->identity_token = dup_or_null(creds->identity_token);
		c->registry_token = dup_or_null(creds->registry_token);
		if (c->registry_token && asprintf(&c->authorization, "Bearer %s", c->registry_token) < 0)
			c->authorization = NULL;
	}
	if (!c->endpoint || !c->host || !c->path) {
		img_conn_free(c);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	/* An insecure host already seen speaking plain HTTP is not tried with TLS again. */
	if (insecure && http_is_plain(http, c->host))
		c->scheme = "http";
	*ret = c;
	return 0;
}

/* --- one HTTP request --- */

typedef struct req {
	img_conn_t *c;
	CURL *h;
	/* body: to the sink when the answer is 200, else into buf (bounded) */
	img_sink_fn sink;
	void *sink_arg;
	crl_error_t *sink_err;
	int sink_result;
	char *buf;
	size_t len, max;
	bool too_big;
	uint64_t delivered;
	/* headers */
	char *content_type;
	char *www_authenticate;
	long status;
} req_t;

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	req_t *r = arg;
	size_t len = size * n;
	/* A redirect or a retry starts a new set of headers. */
	if (len > 5 && strncasecmp(data, "HTTP/", 5) == 0) {
		free(r->content_type);
		free(r->www_authenticate);
		r->content_type = r->www_authenticate = NULL;
		return len;
	}
	const char *colon = memchr(data, ':', len);
	if (!colon)
		return len;
	size_t kl = (size_t)(colon - data);
	const char *v = colon + 1;
	size_t vl = len - kl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	char **slot = NULL;
	if (kl == 12 && strncasecmp(data, "Content-Type", 12) == 0)
		slot = &r->content_type;
	else if (kl == 16 && strncasecmp(data, "WWW-Authenticate", 16) == 0)
		slot = &r->www_authenticate;
	if (slot && vl < 8192) {
		free(*slot);
		*slot = strndup(v, vl);
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	req_t *r = arg;
	size_t len = size * n;
	long code = 0;
	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
	if (code == 200 && r->sink) {
		int e = r->sink(r->sink_arg, data, len, r->sink_err);
		if (e < 0) {
			r->sink_result = e;
			return 0; /* aborts the transfer */
		}
		r->delivered += len;
		return len;
	}
	if (r->len + len > r->max) {
		r->too_big = true;
		return 0;
	}
	char *nb = realloc(r->buf, r->len + len + 1);
	if (!nb)
		return 0;
	r->buf = nb;
	memcpy(r->buf + r->len, data, len);
	r->len += len;
	r->buf[r->len] = '\0';
	return len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	req_t *r = arg;
	return r->c->opts.cancelled && r->c->opts.cancelled(r->c->opts.cancel_arg) ? 1 : 0;
}

static void req_reset(req_t *r)
{
	free(r->buf);
	free(r->content_type);
	free(r->www_authenticate);
	r->buf = r->content_type = r->www_authenticate = NULL;
	r->len = 0;
	r->too_big = false;
	r->status = 0;
}

static bool transient(CURLcode cc, long status)
{
	return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_RECV_ERROR ||
	       cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE ||
	       (cc == CURLE_OK && (status == 429 || status == 502 || status == 503 || status == 504));
}

/* Performs a GET (or a POST of form, for tokens) of url once. */
static CURLcode perform(req_t *r, const char *url, const char *accept, const char *authorization, const char *form,
			char *errbuf)
{
	img_conn_t *c = r->c;
	CURL *h = curl_easy_init();
	if (!h)
		return CURLE_OUT_OF_MEMORY;
	r->h = h;
	struct curl_slist *hdrs = NULL;
	char line[512];
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, line);
	}
	_cleanup_free_ char *auth_line = NULL;
	if (authorization && asprintf(&auth_line, "Authorization: %s", authorization) >= 0)
		hdrs = curl_slist_append(hdrs, auth_line);
	long timeout = c->opts.progress_timeout_s > 0 ? c->opts.progress_timeout_s : 300;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "crio-lite/" CRL_VERSION);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, c->insecure ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, timeout);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 64L * 1024);
	if (c->http)
		curl_easy_setopt(h, CURLOPT_SHARE, c->http->share);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (form) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	}
	errbuf[0] = '\0';
	CURLcode cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	if (auth_line)
		explicit_bzero(auth_line, strlen(auth_line));
	curl_easy_cleanup(h);
	r->h = NULL;
	return cc;
}

static char *url_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *r = e ? strdup(e) : NULL;
	curl_free(e);
	return r;
}

/* The registry's error document, shortened, for messages: {"errors":[{"code":..,"message":..}]} */
static void registry_error(const req_t *r, char *out, size_t n)
{
	out[0] = '\0';
	if (!r->buf)
		return;
	crl_json_value_t *doc = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_json_parse(r->buf, &doc, &e) == 0) {
		const crl_json_value_t *first = crl_json_array_at(crl_json_get(doc, "errors"), 0);
		const char *code = crl_json_get_string(crl_json_get(first, "code"));
		const char *msg = crl_json_get_string(crl_json_get(first, "message"));
		if (code || msg)
			snprintf(out, n, ": %s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
		crl_json_value_free(doc);
	}
	crl_error_clear(&e);
}

/* "Basic base64(user:password)" in *ret; the intermediate copies of the secret are wiped. */
static int basic_header(const img_conn_t *c, char **ret, crl_error_t *err)
{
	_cleanup_free_ char *pair = NULL;
	if (asprintf(&pair, "%s:%s", c->username, c->password ? c->password : "") < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	char *b = crl_base64_encode(pair, strlen(pair));
	explicit_bzero(pair, strlen(pair));
	char *h = NULL;
	if (!b || asprintf(&h, "Basic %s", b) < 0) {
		free(b);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	explicit_bzero(b, strlen(b));
	free(b);
	*ret = h;
	return 0;
}

/* Fetches a bearer token for the challenge (the registry token flow). */
static int fetch_token(img_conn_t *c, const img_challenge_t *ch, crl_error_t *err)
{
	_cleanup_free_ char *scope = NULL, *svc = NULL, *default_scope = NULL;
	if (asprintf(&default_scope, "repository:%s:pull", c->path) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	scope = url_escape(ch->scope ? ch->scope : default_scope);
	svc = url_escape(ch->service ? ch->service : "");
	if (!scope || !svc)
		return crl_error_set(err, ENOMEM, "out of memory");
	if (strncmp(ch->realm, "https://", 8) != 0 && !(c->insecure && strncmp(ch->realm, "http://", 7) == 0))
		return crl_error_set(err, EKEYREJECTED, "token realm '%.200s' of %s is not https", ch->realm, c->host);
	req_t r = { .c = c, .max = MAX_TOKEN_BODY };
	char errbuf[CURL_ERROR_SIZE];
	_cleanup_free_ char *url = NULL, *basic = NULL, *form = NULL;
	CURLcode cc;
	if (c->identity_token) {
		_cleanup_free_ char *tok = url_escape(c->identity_token);
		if (!tok || asprintf(&form, "grant_type=refresh_token&refresh_token=%s&service=%s&scope=%s&client_id=crio-lite",
				     tok, svc, scope) < 0)
			return crl_error_set(err, ENOMEM, "out of memory");
		cc = perform(&r, ch->realm, NULL, NULL, form, errbuf);
		explicit_bzero(form, strlen(form));
	} else {
		if (asprintf(&url, "%s%sservice=%s&scope=%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?", svc, scope) < 0)
			return crl_error_set(err, ENOMEM, "out of memory");
		if (c->username) {
			int e = basic_header(c, &basic, err);
			if (e < 0)
				return e;
		}
		cc = perform(&r, url, NULL, basic, NULL, errbuf);
		if (basic)
			explicit_bzero(basic, strlen(basic));
	}
	int ret = 0;
	if (cc != CURLE_OK)
		ret = crl_error_set(err, EAGAIN, "token request to %s failed: %s", c->host, errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (r.status == 401 || r.status == 403)
		ret = crl_error_set(err, EKEYREJECTED, "%s refused the credentials for %s (HTTP %ld)", c->host, c->path, r.status);
	else if (r.status != 200)
		ret = crl_error_set(err, EAGAIN, "token request to %s: HTTP %ld", c->host, r.status);
	if (ret < 0) {
		req_reset(&r);
		return ret;
	}
	crl_json_value_t *doc = NULL;
	if (crl_json_parse(r.buf ? r.buf : "", &doc, err) < 0) {
		req_reset(&r);
		return crl_error_wrap(err, "token from %s", c->host);
	}
	const char *tok = crl_json_get_string(crl_json_get(doc, "token"));
	if (!tok)
		tok = crl_json_get_string(crl_json_get(doc, "access_token"));
	char *authz = NULL;
	if (!tok || !*tok)
		ret = crl_error_set(err, EKEYREJECTED, "token endpoint of %s returned no token", c->host);
	else if (asprintf(&authz, "Bearer %s", tok) < 0)
		ret = crl_error_set(err, ENOMEM, "out of memory");
	if (r.buf)
		explicit_bzero(r.buf, r.len);
	crl_json_value_free(doc);
	req_reset(&r);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&c->lock);
	free(c->authorization);
	c->authorization = authz;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static int basic_auth(img_conn_t *c, crl_error_t *err)
{
	if (!c->username)
		return crl_error_set(err, EKEYREJECTED, "%s requires authentication and no credentials were given", c->host);
	char *authz = NULL;
	int e = basic_header(c, &authz, err);
	if (e < 0)
		return e;
	pthread_mutex_lock(&c->lock);
	free(c->authorization);
	c->authorization = authz;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static void backoff(int attempt)
{
	struct timespec ts = { 0, (long)(200 * 1000000L) << (2 * attempt) };
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec = ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
	}
	nanosleep(&ts, NULL);
}

/* GET /v2/<path>/<kind>/<ref>, authenticating on 401, retrying transient failures while nothing was delivered.
 * On 200 the body went to the sink (or into r->buf when there is none). */
static int get(img_conn_t *c, const char *kind, const char *ref, const char *accept, req_t *r, crl_error_t *err)
{
	bool authed = false;
	char errbuf[CURL_ERROR_SIZE];
	for (int attempt = 0;; attempt++) {
		pthread_mutex_lock(&c->lock);
		const char *scheme = c->scheme;
		_cleanup_free_ char *authz = c->authorization ? strdup(c->authorization) : NULL;
		pthread_mutex_unlock(&c->lock);
		_cleanup_free_ char *url = NULL;
		if (asprintf(&url, "%s://%s/v2/%s/%s/%s", scheme, c->host, c->path, kind, ref) < 0)
			return crl_error_set(err, ENOMEM, "out of memory");
		req_reset(r);
		CURLcode cc = perform(r, url, accept, authz, NULL, errbuf);
		if (authz)
			explicit_bzero(authz, strlen(authz));
		if (r->sink_result < 0)
			return r->sink_result;
		if (cc == CURLE_ABORTED_BY_CALLBACK)
			return crl_error_set(err, ECANCELED, "pull from %s cancelled", c->host);
		/* An insecure endpoint that does not speak TLS: plain HTTP, remembered for the next requests. */
		if (c->insecure && strcmp(scheme, "https") == 0 &&
		    (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING)) {
			pthread_mutex_lock(&c->lock);
			c->scheme = "http";
			pthread_mutex_unlock(&c->lock);
			http_mark_plain(c->http, c->host);
			attempt--;
			continue;
		}
		if (r->too_big)
			return crl_error_set(err, EFBIG, "%s %s from %s is larger than %zu bytes", kind, ref, c->endpoint, r->max);
		if (cc == CURLE_OK && r->status == 401 && !authed) {
			authed = true;
			img_challenge_t ch;
			int e = img_challenge_parse(r->www_authenticate, &ch, err);
			if (e < 0)
				return crl_error_wrap(err, "%s asks for authentication", c->host);
			e = ch.scheme == IMG_AUTH_BEARER ? fetch_token(c, &ch, err) : basic_auth(c, err);
			img_challenge_clear(&ch);
			if (e < 0)
				return e;
			attempt--;
			continue;
		}
		if (transient(cc, r->status) && r->delivered == 0 && attempt + 1 < RETRIES) {
			backoff(attempt);
			continue;
		}
		if (cc == CURLE_OPERATION_TIMEDOUT)
			return crl_error_set(err, ETIMEDOUT, "%s %s from %s made no progress for %ld s", kind, ref, c->endpoint,
					     c->opts.progress_timeout_s > 0 ? c->opts.progress_timeout_s : 300);
		if (cc != CURLE_OK)
			return crl_error_set(err, EAGAIN, "%s %s from %s: %s", kind, ref, c->endpoint,
					     errbuf[0] ? errbuf : curl_easy_strerror(cc));
		if (r->status == 200)
			return 0;
		char detail[300];
		registry_error(r, detail, sizeof(detail));
		if (r->status == 404)
			return crl_error_set(err, ENOENT, "%s %s not found in %s%s", kind, ref, c->endpoint, detail);
		if (r->status == 401)
			return crl_error_set(err, EKEYREJECTED, "%s: authentication failed for %s%s", c->host, c->path, detail);
		if (r->status == 403)
			return crl_error_set(err, EACCES, "%s: access to %s denied%s", c->host, c->path, detail);
		if (r->status == 429 || r->status >= 500)
			return crl_error_set(err, EAGAIN, "%s %s from %s: HTTP %ld%s", kind, ref, c->endpoint, r->status, detail);
		return crl_error_set(err, EIO, "%s %s from %s: HTTP %ld%s", kind, ref, c->endpoint, r->status, detail);
	}
}

int img_conn_get_manifest(img_conn_t *c, const char *reference, size_t max, char **ret_body, size_t *ret_len,
			  char **ret_media_type, crl_error_t *err)
{
	req_t r = { .c = c, .max = max };
	const char *accept = IMG_MT_OCI_INDEX ", " IMG_MT_DOCKER_LIST ", " IMG_MT_OCI_MANIFEST ", " IMG_MT_DOCKER_MANIFEST;
	int ret = get(c, "manifests", reference, accept, &r, err);
	if (ret == 0) {
		/* "type; charset=..." */
		char *ct = r.content_type ? r.content_type : strdup("");
		r.content_type = NULL;
		if (ct)
			ct[strcspn(ct, "; ")] = '\0';
		*ret_media_type = ct;
		*ret_body = r.buf ? r.buf : strdup("");
		*ret_len = r.len;
		r.buf = NULL;
	}
	req_reset(&r);
	return ret;
}

int img_conn_get_blob_small(img_conn_t *c, const char *digest, size_t max, char **ret_body, size_t *ret_len,
			    crl_error_t *err)
{
	req_t r = { .c = c, .max = max };
	int ret = get(c, "blobs", digest, NULL, &r, err);
	if (ret == 0) {
		*ret_body = r.buf ? r.buf : strdup("");
		*ret_len = r.len;
		r.buf = NULL;
	}
	req_reset(&r);
	return ret;
}

int img_conn_get_blob(img_conn_t *c, const char *digest, img_sink_fn sink, void *arg, uint64_t *ret_bytes,
		      crl_error_t *err)
{
	req_t r = { .c = c, .max = MAX_ERROR_BODY, .sink = sink, .sink_arg = arg, .sink_err = err };
	int ret = get(c, "blobs", digest, NULL, &r, err);
	if (ret == 0 && ret_bytes)
		*ret_bytes = r.delivered;
	req_reset(&r);
	return ret;
}
