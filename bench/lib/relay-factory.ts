// The bench's phones reach the relay as the CLI phone does: RelayClient over the ws package.
import WebSocket from 'ws';
import type { RelayFactory } from '../../phone/core/pair.ts';
import { RelayClient, type WebSocketConstructor } from '../../relay/client.ts';

export const relayFactory: RelayFactory = (o) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });
