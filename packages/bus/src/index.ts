export type { Subscription } from "@nats-io/nats-core";
export type { Bus, BusOptions } from "./bus.js";
export { bindBus, createBus } from "./bus.js";
export type { ConnectOptions } from "./connection.js";
export { connectNats } from "./connection.js";
export type { HandRegistry, HandServer, ServeHandOptions } from "./hands.js";
export type { Handler, HandlerContext, RequestOptions, RpcObserver } from "./rpc.js";
export type { ConsumeOptions, WakeConsumer, WakeDelivery, WakeQueueConfig } from "./wake.js";
export { BusEnv, busOptions, LogLevelEnv } from "./env.js";
