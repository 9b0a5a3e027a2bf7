// workerd's own cost of a held WebSocket, for the idle benchmark: a Durable
// Object that accepts hibernatable WebSockets and speaks just enough Engine.IO
// and Socket.IO for socket.io-client to connect a namespace (open packet,
// namespace CONNECT answered), then nothing. It keeps no state of its own, so
// the memory per socket it shows is the runtime's floor under any gateway.
import { DurableObject } from "cloudflare:workers";

const OPEN = JSON.stringify({ sid: "floor", upgrades: [], pingInterval: 600000, pingTimeout: 600000, maxPayload: 65536 });

export class Holder extends DurableObject {
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    server.send(`0${OPEN}`);
    return new Response(null, { status: 101, webSocket: client });
  }
  webSocketMessage(ws, message) {
    // "40/messaging," (CONNECT of a namespace) → "40/messaging,{"sid":…}"
    const m = /^40(\/[^,]*,)?/.exec(String(message));
    if (m) ws.send(`40${m[1] ?? ""}{"sid":"floor"}`);
  }
}

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/health") return new Response("ok");
    return env.HOLDER.get(env.HOLDER.idFromName("one")).fetch(request);
  },
};
