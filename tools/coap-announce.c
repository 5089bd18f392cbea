/*
 * coap-announce: sends one Tattler announcement through libcoap's library (not our encoder) and
 * prints the answer, for src/collector/libcoap-interop.test.ts.
 *
 *   coap-announce HOST PORT TOKEN_HEX PAYLOAD_FILE OUT_FILE
 *
 * Sends a NON POST to coap://HOST:PORT/t with the 8-byte token TOKEN_HEX, Content-Format 60 and
 * the bytes of PAYLOAD_FILE as payload (a Tattler request's CBOR payload: the datagram comes out
 * at 1232 bytes). libcoap's default MTU (1152) is too small for that, so the session's MTU is
 * raised to 1280. On an answer: writes its payload to OUT_FILE, prints "code C.DD", "type T",
 * "mid M", "token HEX", one "option NUMBER HEX" per option and "payload N" on stdout, exits 0.
 * libcoap's debug log goes to stderr. Exits 2 when no answer comes within 3 s, 1 on any other failure.
 *
 * Build: gcc -O1 -o coap-announce tools/coap-announce.c $(pkg-config --cflags --libs libcoap-3-notls)
 */
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out_path;
static int answered; /* 0: waiting, 1: answer written, -1: writing failed */

/* libcoap logs debug lines to stdout by default; keep stdout for the answer. */
static void log_to_stderr(coap_log_t level, const char *message) {
  (void)level;
  fputs(message, stderr);
}

static void print_hex(const uint8_t *bytes, size_t length) {
  for (size_t i = 0; i < length; i++) printf("%02x", bytes[i]);
}

/* Called by coap_io_process for the answer matching our token. */
static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid) {
  (void)session;
  (void)sent;
  coap_pdu_code_t code = coap_pdu_get_code(received);
  coap_bin_const_t token = coap_pdu_get_token(received);
  printf("code %d.%02d\ntype %d\nmid %d\ntoken ", code >> 5, code & 0x1f,
         (int)coap_pdu_get_type(received), (int)mid);
  print_hex(token.s, token.length);
  printf("\n");
  coap_opt_iterator_t it;
  coap_opt_t *option;
  coap_option_iterator_init(received, &it, COAP_OPT_ALL);
  while ((option = coap_option_next(&it)) != NULL) {
    printf("option %d ", it.number);
    print_hex(coap_opt_value(option), coap_opt_length(option));
    printf("\n");
  }
  size_t length = 0;
  const uint8_t *data = NULL;
  coap_get_data(received, &length, &data);
  printf("payload %zu\n", length);
  FILE *out = fopen(out_path, "wb");
  answered = out != NULL && fwrite(data, 1, length, out) == length && fclose(out) == 0 ? 1 : -1;
  return COAP_RESPONSE_OK;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s HOST PORT TOKEN_HEX PAYLOAD_FILE OUT_FILE\n", argv[0]);
    return 1;
  }
  out_path = argv[5];
  uint8_t token[8];
  if (strlen(argv[3]) != 16) return fprintf(stderr, "token: 16 hex digits expected\n"), 1;
  for (int i = 0; i < 8; i++) sscanf(argv[3] + 2 * i, "%2hhx", &token[i]);

  static uint8_t payload[2048];
  FILE *in = fopen(argv[4], "rb");
  if (in == NULL) return perror(argv[4]), 1;
  size_t payload_length = fread(payload, 1, sizeof payload, in);
  fclose(in);

  coap_startup();
  /* libcoap's debug log on stderr shows what goes on the wire ("sent 1232 bytes"). */
  coap_set_log_handler(log_to_stderr);
  coap_set_show_pdu_output(0); /* PDU dumps through the handler too */
  coap_set_log_level(LOG_DEBUG);
  coap_address_t server;
  coap_address_init(&server);
  server.addr.sin.sin_family = AF_INET;
  server.addr.sin.sin_port = htons((uint16_t)atoi(argv[2]));
  server.size = sizeof server.addr.sin;
  if (inet_pton(AF_INET, argv[1], &server.addr.sin.sin_addr) != 1)
    return fprintf(stderr, "host: an IPv4 address expected\n"), 1;

  coap_context_t *context = coap_new_context(NULL);
  coap_session_t *session =
      context == NULL ? NULL : coap_new_client_session(context, NULL, &server, COAP_PROTO_UDP);
  if (session == NULL) return fprintf(stderr, "cannot create the libcoap session\n"), 1;
  coap_register_response_handler(context, on_response);
  /* 1280 (the IPv6 minimum MTU) leaves libcoap room for a 1232-byte datagram. */
  coap_session_set_mtu(session, 1280);
  fprintf(stderr, "max pdu size %zu\n", coap_session_max_pdu_size(session));

  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_NON, COAP_REQUEST_CODE_POST,
                                  coap_new_message_id(session), coap_session_max_pdu_size(session));
  uint8_t format[4];
  if (pdu == NULL || !coap_add_token(pdu, sizeof token, token) ||
      !coap_add_option(pdu, COAP_OPTION_URI_PATH, 1, (const uint8_t *)"t") ||
      !coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                       coap_encode_var_safe(format, sizeof format, COAP_MEDIATYPE_APPLICATION_CBOR),
                       format) ||
      !coap_add_data(pdu, payload_length, payload))
    return fprintf(stderr, "cannot build the %zu-byte request\n", payload_length), 1;
  if (coap_send(session, pdu) == COAP_INVALID_MID)
    return fprintf(stderr, "coap_send refused the request\n"), 1;

  /* Up to 3 s for the answer, in 100 ms rounds. */
  for (int waited = 0; answered == 0 && waited < 3000; waited += 100) coap_io_process(context, 100);

  coap_session_release(session);
  coap_free_context(context);
  coap_cleanup();
  if (answered < 0) return fprintf(stderr, "%s: cannot write\n", out_path), 1;
  return answered ? 0 : 2;
}
