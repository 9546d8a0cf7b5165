export { startGatewaySimulator, type GatewaySimulator, type GatewaySimulatorOptions } from './gatewaySimulator.js';
export { startCountingServer, type CountingServer, type CountingServerOptions, type CountingServerStats } from './countingServer.js';
export { FixedWindowCounter, type ServerWindow } from './fixedWindow.js';
export type { SimAccount } from './auth.js';
export type { Arrival, Block, SimulatorStats } from './simStats.js';
export {
  startWsSimulator,
  type WsSimulator,
  type WsSimulatorOptions,
  type WsSimulatorStats,
  type WsConnectRecord,
  type BulletData,
  type Ws509Counts,
  type WsRateRule,
  type WsWindowKind,
} from './wsSimulator.js';
export { InjectedCodes, type CodeInjection, type InjectionHandle, type InjectedCodesOptions } from './injectedCodes.js';
