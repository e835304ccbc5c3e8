// Drive the simulator with @nktkas/hyperliquid through a market maker's calls and validate every
// response against the SDK's own published response types (turned into strict JSON schemas by
// ts-json-schema-generator: unknown keys forbidden, every declared key required unless optional).
//
// Usage: node --experimental-websocket ts_sdk_driver.mjs <cache dir> <http base url>
// Prints one JSON object per check on stdout: {"check": name, "ok": bool, "error"?: text}.
// Run by tests/interop/test_ts_sdk.py; the cache dir comes from scripts/install-ts-sdk.sh.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [cacheDir, baseUrl] = process.argv.slice(2);
const require = createRequire(path.join(cacheDir, "package.json"));
const mod = (name) => import(pathToFileURL(require.resolve(name)).href);
const hl = await mod("@nktkas/hyperliquid");
const { privateKeyToAccount } = await mod("viem/accounts");
const { createGenerator } = await mod("ts-json-schema-generator");
const AjvMod = await mod("ajv");
const Ajv = AjvMod.default.default ?? AjvMod.default;

const sdkDir = path.join(path.dirname(require.resolve("@nktkas/hyperliquid")));
const generator = createGenerator({
  path: path.join(sdkDir, "api", "{info,exchange,subscription}", "_methods", "*.d.ts"),
  type: "*",
  skipTypeCheck: true,
  additionalProperties: false,
  expose: "export",
  jsDoc: "extended",
});
const ajv = new Ajv({ strict: false, allErrors: false });
const validators = new Map();
function validator(typeName) {
  if (!validators.has(typeName)) {
    validators.set(typeName, ajv.compile(generator.createSchema(typeName)));
  }
  return validators.get(typeName);
}

function report(check, ok, error) {
  const row = { check, ok };
  if (error !== undefined) row.error = String(error).slice(0, 600);
  console.log(JSON.stringify(row));
}
function validate(check, typeName, value) {
  const v = validator(typeName);
  if (v(value)) {
    report(check, true);
  } else {
    report(check, false, `${typeName}: ${ajv.errorsText(v.errors)} in ${JSON.stringify(value).slice(0, 300)}`);
  }
}
const timeout = (ms, what) => new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms));
async function check(name, typeName, fn) {
  try {
    const value = await Promise.race([fn(), timeout(5000, name)]);
    if (typeName) validate(name, typeName, value);
    else report(name, true);
    return value;
  } catch (e) {
    report(name, false, e?.message ?? e);
    return undefined;
  }
}

const wsUrl = baseUrl.replace(/^http/, "ws") + "/ws";
const http = new hl.HttpTransport({ isTestnet: true, apiUrl: baseUrl, timeout: 5000 });
const ws = new hl.WebSocketTransport({ isTestnet: true, url: wsUrl, timeout: 5000 });
const info = new hl.InfoClient({ transport: http });
const wallet = privateKeyToAccount("0x" + "6e".repeat(32));
const user = wallet.address;
const ex = new hl.ExchangeClient({ transport: http, wallet });
const subs = new hl.SubscriptionClient({ transport: ws });

// ---- market data ---------------------------------------------------------------------------
const meta = await check("info.meta", "MetaResponse", () => info.meta());
await check("info.metaAndAssetCtxs", "MetaAndAssetCtxsResponse", () => info.metaAndAssetCtxs());
await check("info.spotMeta", "SpotMetaResponse", () => info.spotMeta());
const mids = await check("info.allMids", "AllMidsResponse", () => info.allMids());
await check("info.l2Book", "L2BookResponse", () => info.l2Book({ coin: "ETH" }));
await check("info.exchangeStatus", "ExchangeStatusResponse", () => info.exchangeStatus());
const asset = meta ? meta.universe.findIndex((u) => u.name === "ETH") : 1;
const mid = Number(mids?.ETH ?? "3000");
const px = (f) => String(Math.round(mid * f));

// ---- WS subscriptions: acks and pushes ------------------------------------------------------
const pushes = {};
async function subscribe(name, typeName, start) {
  let first;
  const got = new Promise((resolve) => { first = resolve; });
  const sub = await check(`ws.subscribe.${name}`, null, () => start((data) => {
    validate(`ws.push.${name}`, typeName, data);
    first(data);
  }));
  pushes[name] = sub ? got : null;
}
await subscribe("l2Book", "L2BookEvent", (cb) => subs.l2Book({ coin: "ETH" }, cb));
await subscribe("allMids", "AllMidsEvent", (cb) => subs.allMids(cb));
await subscribe("bbo", "BboEvent", (cb) => subs.bbo({ coin: "ETH" }, cb));
await subscribe("trades", "TradesEvent", (cb) => subs.trades({ coin: "ETH" }, cb));
await subscribe("orderUpdates", "OrderUpdatesEvent", (cb) => subs.orderUpdates({ user }, cb));
await subscribe("userFills", "UserFillsEvent", (cb) => subs.userFills({ user }, cb));
await subscribe("userEvents", "UserEventsEvent", (cb) => subs.userEvents({ user }, cb));
await subscribe("candle", "CandleEvent", (cb) => subs.candle({ coin: "ETH", interval: "1m" }, cb));
await subscribe("allDexsAssetCtxs", "AllDexsAssetCtxsEvent", (cb) => subs.allDexsAssetCtxs(cb));
await subscribe("userTwapSliceFills", "UserTwapSliceFillsEvent", (cb) => subs.userTwapSliceFills({ user }, cb));
await subscribe("userTwapHistory", "UserTwapHistoryEvent", (cb) => subs.userTwapHistory({ user }, cb));
await subscribe("userFundings", "UserFundingsEvent", (cb) => subs.userFundings({ user }, cb));
await subscribe("userNonFundingLedgerUpdates", "UserNonFundingLedgerUpdatesEvent",
  (cb) => subs.userNonFundingLedgerUpdates({ user }, cb));

// ---- the market maker's orders ---------------------------------------------------------------
// A cloid with its top bit set: 0.33.3's request schemas read a hex `oid` that fits a safe
// integer as that integer (0x…65 → 101), so a small cloid could not address an order by cloid.
const cloid = "0x8" + "0".repeat(29) + "65";
const must = (value, pred, what) => {
  if (!pred(value)) throw new Error(`${what}: ${JSON.stringify(value).slice(0, 300)}`);
  return value;
};
await check("exchange.approveBuilderFee", "ApproveBuilderFeeResponse",
  () => ex.approveBuilderFee({ maxFeeRate: "0.01%", builder: "0x" + "b1".repeat(20) }));
await check("exchange.setReferrer", "SetReferrerResponse", () => ex.setReferrer({ code: "HLMAKER" }));
await check("exchange.updateLeverage", "UpdateLeverageResponse",
  () => ex.updateLeverage({ asset, isCross: true, leverage: 5 }));
const placed = await check("exchange.order.alo", "OrderResponse", () => ex.order({
  orders: [{ a: asset, b: true, p: px(0.9), s: "0.01", r: false, t: { limit: { tif: "Alo" } }, c: cloid }],
  grouping: "na",
}));
const oid = must(placed, (r) => r?.response?.data?.statuses?.[0]?.resting?.oid, "ALO rests")
  .response.data.statuses[0].resting.oid;
await check("info.openOrders", "OpenOrdersResponse", () => info.openOrders({ user }));
await check("info.frontendOpenOrders", "FrontendOpenOrdersResponse", () => info.frontendOpenOrders({ user }));
await check("info.orderStatus.oid", "OrderStatusResponse",
  async () => must(await info.orderStatus({ user, oid }), (r) => r.order?.order?.oid === oid, "by oid"));
await check("info.orderStatus.cloid", "OrderStatusResponse",
  async () => must(await info.orderStatus({ user, oid: cloid }), (r) => r.order?.order?.oid === oid, "by cloid"));
await check("exchange.modify", "ModifyResponse", () => ex.modify({
  oid: cloid,
  order: { a: asset, b: true, p: px(0.89), s: "0.02", r: false, t: { limit: { tif: "Alo" } }, c: cloid },
}));
const modified = await check("info.orderStatus.modified", "OrderStatusResponse", () => info.orderStatus({ user, oid: cloid }));
const modifiedOid = must(modified, (r) => r?.order?.order?.oid !== oid, "modify replaced the oid")
  .order.order.oid;
await check("exchange.batchModify", "BatchModifyResponse", () => ex.batchModify({
  modifies: [{ oid: modifiedOid, order: { a: asset, b: true, p: px(0.88), s: "0.02", r: false, t: { limit: { tif: "Alo" } }, c: cloid } }],
}));
await check("exchange.cancelByCloid", "CancelByCloidResponse", () => ex.cancelByCloid({ cancels: [{ asset, cloid }] }));
const bulk = await check("exchange.order.bulk", "OrderResponse", () => ex.order({
  orders: [
    { a: asset, b: true, p: px(0.8), s: "0.01", r: false, t: { limit: { tif: "Gtc" } } },
    { a: asset, b: false, p: px(1.2), s: "0.01", r: false, t: { limit: { tif: "Gtc" } } },
  ],
  grouping: "na",
}));
const bulkOids = (bulk?.response?.data?.statuses ?? []).map((s) => s.resting?.oid);
await check("exchange.cancel.bulk", "CancelResponse", () => ex.cancel({ cancels: bulkOids.map((o) => ({ a: asset, o })) }));
const ioc = await check("exchange.order.ioc", "OrderResponse", async () => must(await ex.order({
  orders: [{ a: asset, b: true, p: px(1.05), s: "0.01", r: false, t: { limit: { tif: "Ioc" } } }],
  grouping: "na",
}), (r) => r.response.data.statuses[0].filled?.totalSz === "0.01", "IOC fills"));
const fillTime = Date.now() - 60_000;
await check("info.clearinghouseState", "ClearinghouseStateResponse", async () => must(
  await info.clearinghouseState({ user }),
  (r) => r.assetPositions.some((p) => p.position.coin === "ETH" && p.position.szi === "0.01"), "position"));
await check("info.userFills", "UserFillsResponse", () => info.userFills({ user }));
await check("info.userFillsByTime", "UserFillsByTimeResponse", async () => must(
  await info.userFillsByTime({ user, startTime: fillTime }), (r) => r.length === 1, "one fill"));
await check("info.historicalOrders", "HistoricalOrdersResponse", () => info.historicalOrders({ user }));
await check("info.userRateLimit", "UserRateLimitResponse", () => info.userRateLimit({ user }));
await check("exchange.scheduleCancel", "ScheduleCancelResponse", () => ex.scheduleCancel({ time: Date.now() + 60_000 }));
await check("exchange.scheduleCancel.clear", "ScheduleCancelResponse", () => ex.scheduleCancel({}));

// ---- the rest of the info surface ------------------------------------------------------------
await check("info.spotClearinghouseState", "SpotClearinghouseStateResponse", () => info.spotClearinghouseState({ user }));
await check("info.userRole", "UserRoleResponse", () => info.userRole({ user }));
await check("info.candleSnapshot", "CandleSnapshotResponse",
  () => info.candleSnapshot({ coin: "ETH", interval: "1m", startTime: Date.now() - 3_600_000 }));
await check("info.fundingHistory", "FundingHistoryResponse", () => info.fundingHistory({ coin: "ETH", startTime: 0 }));
await check("info.predictedFundings", "PredictedFundingsResponse", () => info.predictedFundings());
await check("info.userFunding", "UserFundingResponse", () => info.userFunding({ user, startTime: 0 }));
await check("info.userFees", "UserFeesResponse", () => info.userFees({ user }));
await check("info.activeAssetData", "ActiveAssetDataResponse", () => info.activeAssetData({ user, coin: "ETH" }));
await check("info.maxBuilderFee", "MaxBuilderFeeResponse", () => info.maxBuilderFee({ user, builder: "0x" + "b1".repeat(20) }));
await check("info.userNonFundingLedgerUpdates", "UserNonFundingLedgerUpdatesResponse",
  () => info.userNonFundingLedgerUpdates({ user, startTime: 0 }));
await check("info.portfolio", "PortfolioResponse", () => info.portfolio({ user }));
await check("info.recentTrades", "RecentTradesResponse", () => info.recentTrades({ coin: "ETH" }));
await check("info.extraAgents", "ExtraAgentsResponse", () => info.extraAgents({ user }));
await check("info.userVaultEquities", "UserVaultEquitiesResponse", () => info.userVaultEquities({ user }));
await check("info.delegatorHistory", "DelegatorHistoryResponse", () => info.delegatorHistory({ user }));
await check("info.allPerpMetas", "AllPerpMetasResponse", () => info.allPerpMetas());
await check("info.userTwapSliceFills", "UserTwapSliceFillsResponse", () => info.userTwapSliceFills({ user }));
await check("info.userAbstraction", "UserAbstractionResponse", () => info.userAbstraction({ user }));

// ---- WS post (info and exchange over the socket) ----------------------------------------------
const wsInfo = new hl.InfoClient({ transport: ws });
const wsEx = new hl.ExchangeClient({ transport: ws, wallet });
await check("wspost.info.l2Book", "L2BookResponse", () => wsInfo.l2Book({ coin: "ETH" }));
await check("wspost.info.openOrders", "OpenOrdersResponse", () => wsInfo.openOrders({ user }));
const wsPlaced = await check("wspost.exchange.order", "OrderResponse", () => wsEx.order({
  orders: [{ a: asset, b: false, p: px(1.3), s: "0.01", r: false, t: { limit: { tif: "Alo" } } }],
  grouping: "na",
}));
const wsOid = wsPlaced?.response?.data?.statuses?.[0]?.resting?.oid;
await check("wspost.exchange.cancel", "CancelResponse", () => wsEx.cancel({ cancels: [{ a: asset, o: wsOid }] }));

// ---- pushes arrived --------------------------------------------------------------------------
for (const [name, got] of Object.entries(pushes)) {
  if (got === null) continue;
  await check(`ws.pushed.${name}`, null, () => got);
}
void oid; void ioc;
await Promise.resolve(ws.close()).catch(() => {});
process.exit(0);
