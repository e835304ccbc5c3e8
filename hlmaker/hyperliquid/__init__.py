"""The Hyperliquid venue layer: wire codec, signing, keys, nonces, REST and WebSocket clients.

Exchange facts come from ``../shared/hyperliquid-protocol.md`` (cited as §N). Units everywhere:
px in quote currency, sz in coin, both exact :class:`~decimal.Decimal` (never float); times in
ms since the epoch (from the injected :mod:`hlmaker.clock`); durations in trio seconds.

Module map (import from the submodules; this package imports nothing eagerly)::

    errors     VenueError tree (TransportError > RequestTimeout/ConnectionStalled/
               ConsumerOverflow/WsProtocolError; HttpError > RateLimited/ServerError/
               BadRequest; ExchangeError; CodecError; KeyLoadError; NumberFormatError;
               SignatureError)
    signing    sign_l1_action(wallet, action, active_pool, nonce, expires_after, is_mainnet)
                 -> {"r", "s", "v"}                     byte-identical to the SDK (§5.1)
               action_hash(action, vault_address, nonce, expires_after) -> bytes  (connectionId)
               l1_digest(connection_id, is_mainnet) -> bytes                      (EIP-712)
               recover_l1_signer(action, vault_address, nonce, expires_after, signature,
                 is_mainnet) -> "0x…" lower-case       (raises SignatureError, a ValueError)
    keys       PrivateKey.from_hex / from_env(var="HLMAKER_PRIVATE_KEY") / from_file(path);
               .address (lower-case), .checksum_address; secret never shown
               Wallet(key, account_address=None, vault_address=None): .signer_address,
                 .account_address, .vault_address, .query_address, .is_agent
    nonces     NonceManager(clock, *, floor=0, observer=NO_OBSERVER).next(signer) -> int
                 (max(last + 1, now_ms));
               .last(signer), .observe(signer, nonce), .lead_ms(signer)
    numbers    decimal_to_wire(Decimal) -> str   (the SDK's float_to_wire strings, §5.4)
               round_px(px, sz_decimals, is_spot=False, rounding=…), round_sz(sz, sz_decimals,
               rounding=…), validate_px(...), validate_sz(...)  (raise NumberFormatError, §5.5)
    actions    order_wire(asset, is_buy, px, sz, reduce_only, "Alo"|"Ioc"|"Gtc"|Trigger, cloid)
               order_wire_from_request(OrderRequest, AssetMap)    (validated per szDecimals)
               order_action(wires, grouping="na", builder=None), cancel_action([(asset, oid)]),
               cancel_by_cloid_action([(asset, cloid)]), batch_modify_action([(oid|cloid, wire)]),
               schedule_cancel_action(time_ms | None), noop_action()      (key order of §4.2)
    meta       AssetMap.from_meta(meta, spot_meta=None, builder_dexes=[(k, dex, meta)]):
               .asset(coin), .coin(asset), .sz_decimals(asset|coin), .is_spot(asset),
               .canonical_coin(name)              (perp = index, spot = 10000 + index, §7)
    envelope   build_envelope(action, wallet, nonce, vault_address, expires_after, is_mainnet)
                 -> {"action", "nonce", "signature", "vaultAddress", "expiresAfter"}  (§4.1)
               ActionSigner(wallet, nonces, clock, *, is_mainnet, expires_after_ms=30_000)
                 .sign(action) -> SignedAction(envelope, nonce, expires_after_ms)
    codec      parse_frame(str | bytes) -> Frame   (raises only CodecError; JSON by msgspec,
               non-integer numbers as exact Decimal)
               payload parsers shared by REST and WS post: parse_fill(s), parse_open_order(s),
               parse_positions, parse_order_status(resp, cloid, queried_at_ms),
               parse_order_update(s), parse_l2_book, parse_bbo, parse_all_mids, parse_trades,
               parse_funding, parse_liquidation, parse_non_user_cancel, parse_order_kind,
               parse_twap_slice_fills  (module payloads)
               parse_exchange_response(reply) -> inner, parse_order_statuses(reply, n) ->
               [Resting | Filled | StatusError | Waiting], parse_cancel_statuses(reply, n) ->
               ["success" | StatusError], parse_default_response(reply)  (module responses)
    frames     GreetingFrame, SubscriptionAck, Pong, WsErrorFrame, PostResponse(id, kind,
               payload), OpenOrdersFrame, ClearinghouseFrame, UnhandledFrame; Frame (union)
    fields     typed JSON field readers used by the parsers (raise CodecError)
    rest       RestClient(base_url, *, transport=None, timeout_s=10.0)  async context manager:
               info(body), post_action(envelope), meta(dex=""), spot_meta(), perp_dexs(),
               asset_map(), all_mids(dex=""), l2_book(coin), open_orders(user, dex=""),
               frontend_open_orders(user, dex=""), clearinghouse_state(user, dex=""),
               positions(user, dex=""), user_fills(user), user_fills_by_time(user, start_ms,
               end_ms=None), order_status(user, oid_or_cloid, queried_at_ms),
               user_twap_slice_fills(user)
    ws         WsClient.open(url | connector, **options) -> async context of WsClient:
               .subscribe(sub), .unsubscribe(sub), .post_info(body), .post_action(envelope),
               .post(kind, payload), .frames (receive channel), .stats, .failure
               WsConnection (seam Protocol), url_connector(url) (hlmaker's RFC 6455 client),
               trio_websocket_connector(url), memory_connection_pair(),
               ws_url(base_url) -> "ws…/ws"       (the SDK's rule, §3.3)
               Backoff(rng), run_reconnecting(connector, session, backoff, on_disconnect=…)
    websocket  open_websocket(url) -> async context of WebSocket: .get_messages() (every
               message of one read), .get_message(), .send_message(str | bytes), .aclose();
               FrameParser(max_message_size).feed(bytes) (sans-IO; raises WsProtocolError)

Typical executor path::

    signed = signer.sign(order_action([order_wire_from_request(r, assets) for r in reqs]))
    reply = await rest.post_action(signed.envelope)     # or: await ws.post_action(...)
    statuses = parse_order_statuses(reply, len(reqs))   # data, one per order
"""
