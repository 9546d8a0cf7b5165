// kucoin-scheduler's public surface: a barrel of named exports, nothing else. What is not exported here (the attempt
// loop's class, the scheduler's port, the lanes) is internal, and the build strips every member tagged internal from
// the emitted types (tsconfig.build.json, stripInternal). test/publicSurface.test.ts holds both, and a doc comment on
// every export.
import type { HealthListener as ResilientHealthListener, ResilientStoreOptions as ResilientOptions } from './store/resilientStore.js';

export { type Scheduler, type BucketTarget, type ResumeTarget, type SchedulerSnapshot, type WrapOptions } from './scheduler/scheduler.js';
export { createScheduler } from './send/createScheduler.js';
export type { Admission } from './scheduler/admission.js';
export {
  FEEDBACK_RULES,
  REFUSAL_STATUSES,
  classifyReply,
  replyFromError,
  type RateLimitSignal,
  type SignalScope,
  type FeedbackRule,
  type GatewayReply,
  type Classified,
} from './kucoin/errorFeedback.js';
export type { FeedbackOutcome } from './scheduler/feedbackController.js';
export { parseRateLimitHeaders, parseRetryAfterMs, type RateLimitHeaders, type HeaderBag } from './kucoin/headers.js';
export type { SchedulerOptions, PoolOptions, WindowLimit, FeedbackOptions } from './scheduler/options.js';
export type { ScheduleOptions } from './scheduler/requestPlan.js';
export type { SchedulerEvents, Listener } from './scheduler/events.js';
export { MemoryStore, type MemoryStoreOptions } from './store/memoryStore.js';
export { RedisStore, type RedisStoreOptions } from './store/redis/redisStore.js';
export { ResilientStore, type StoreHealth } from './store/resilientStore.js';
export { createRedisStore } from './store/createRedisStore.js';
export type { RedisLike } from './store/redis/luaScript.js';
export {
  PRIORITIES,
  type Priority,
  type Store,
  type BucketConfig,
  type BucketCharge,
  type BucketState,
  type AcquireRequest,
  type AcquireResult,
  type DenyReason,
  type Observation,
  type ObserveResult,
  type Penalty,
  type PenaltyResult,
} from './store/types.js';
export { POOLS, POOL_NAMES, CLOUDFLARE_IP_LIMIT, quotaFor, quotaRange, type PoolName, type PoolDefinition } from './kucoin/pools.js';
export { EndpointTable, parseEndpoint, parseHost } from './kucoin/endpointTable.js';
export { authHeaders, keyIdOf, signRequest, type Credentials } from './kucoin/signing.js';
export { KUCOIN_BASE_URLS } from './kucoin/hosts.js';
export { KucoinClient, type KucoinClientOptions, type KucoinRequest, type KucoinResponse } from './http/kucoinClient.js';
export { kucoinScheduling, type SchedulingInterceptorOptions } from './http/schedulingInterceptor.js';
export type { IntegrationOptions } from './integrations/integrationOptions.js';
export { kucoinSdkInterceptor, withKucoinScheduler, type KucoinSdkSchedulingOptions, type SdkInterceptor } from './integrations/kucoinUniversalSdk.js';
export { withKucoinWebSockets, SchedulerWsService, type KucoinSdkWebSocketOptions, type KucoinSdkClientLike } from './integrations/kucoinUniversalSdkWs.js';
export type { EndpointInfo, HostName, KnownEndpoint, UnlistedEndpoint, Endpoint, CheckedEndpoint } from './kucoin/endpointTypes.js';
export type { TableEndpoint } from './kucoin/endpoints.generated.js';
export { unlisted } from './kucoin/unlisted.js';
export { withCcxtScheduler, CCXT_EXCHANGES, ccxtDefaultPriority, type CcxtSchedulingOptions, type CcxtExchangeLike } from './integrations/ccxt.js';
export { withPriority } from './integrations/callPriority.js';
export { sendWithAttempts, classificationOf, type AttemptRequest, type AttemptPolicy, type AttemptsDone } from './send/attemptLoop.js';
export { isSafeToRepeat } from './send/safeToRepeat.js';
export { type ErrorActionOptions } from './send/errorActions.js';
export {
  KucoinSchedulerError,
  InvalidArgumentError,
  UnknownPoolError,
  InvalidEndpointError,
  AmbiguousEndpointError,
  InvalidWeightError,
  InvalidPriorityError,
  QueueFullError,
  AbortError,
  MaxWaitExceededError,
  SchedulerClosedError,
  StoreError,
  StoreUnavailableError,
  KucoinApiError,
  KucoinRequestError,
  KeyCircuitOpenError,
  ClockSyncError,
  UnknownEndpointError,
  type ErrorClassification,
  type ReplyRateLimit,
} from './errors.js';
export { WsManager, createWsManager, type WsSubscribeOptions, type WsManagerSnapshot } from './ws/wsManager.js';
export type { WsManagerOptions } from './ws/wsOptions.js';
export type { WsSubscription } from './ws/topicRequest.js';
export type { WsManagerEvents, WsPush } from './ws/wsEvents.js';
export {
  kucoinTokenSource,
  parseBullet,
  checkToken,
  WS_PING_BOUNDS,
  WS_TOKEN_MAX_LENGTH,
  WS_ENDPOINT_MAX_LENGTH,
  type TokenSource,
  type WsToken,
  type WsKind,
  type KucoinTokenSourceOptions,
} from './ws/tokenSource.js';
export { WsMemoryStore, type WsMemoryStoreOptions } from './ws/store/wsMemoryStore.js';
export { WsRedisStore, type WsRedisStoreOptions } from './ws/redis/wsRedisStore.js';
export type {
  WsBudgetStore,
  WsSubjectLimits,
  WsGrant,
  WsDenyReason,
  WsPenalty,
  WsPenaltyResult,
  WsBudgetState,
  WsLearned,
  WsLearnable,
  WsRenewal,
} from './ws/store/wsStoreTypes.js';
export { WS_CODE_RULES, classifyWsError, type WsCodeRule, type WsReaction, type WsErrorPhase } from './ws/wsCodes.js';
export {
  WS_ERROR_CODES,
  KucoinWsError,
  WsTopicError,
  WsCapacityError,
  WsConnectError,
  WsProtocolError,
  WsTooLargeError,
  WsClosedError,
  type WsErrorCode,
  type WsTooLargeWhat,
  type WsWaitReason,
  type TopicRefusalCode,
} from './ws/errors.js';
export {
  lookupKucoinCode,
  KUCOIN_ERROR_CODES,
  KUCOIN_CODE_CATEGORIES,
  KUCOIN_CODE_CATEGORY_NAMES,
  KUCOIN_PRODUCTS,
  type KucoinCodeQuery,
  type KucoinCodeInfo,
  type KucoinCodeEntry,
  type KucoinCodeCategory,
  type KucoinCodeCategoryInfo,
  type KucoinCodeAction,
  type KucoinRestAction,
  type KucoinCodeSignal,
  type KucoinProduct,
} from './kucoin/errorCodes.js';
export { withKucoinNodeSdk, type KucoinNodeSdkSchedulingOptions, type KucoinNodeSdkLike } from './integrations/kucoinNodeSdk.js';
export { createProxy, type KucoinProxy } from './proxy/createProxy.js';
export type { ProxyOptions, ProxySchedulerOptions } from './proxy/proxyOptions.js';
export { PROXY_ERROR_CODES, type ProxyErrorCode } from './proxy/proxyCodes.js';
export { apiKeyHash, type ProxyAccount } from './proxy/accounts.js';
export type { ProxyEvents } from './proxy/proxyEvents.js';
export type { ProxyWsOptions } from './proxy/ws/wsRelayOptions.js';

// documented here until src/store/resilientStore.ts documents them itself (then re-export them directly)
/** Options of `new ResilientStore(...)`: the RedisStore it stands in front of, the heartbeat period and the clock. */
export type ResilientStoreOptions = ResilientOptions;
/** A listener of a ResilientStore's health (`store.onHealthChange(listener)`): the new state, and the error behind it. */
export type HealthListener = ResilientHealthListener;
