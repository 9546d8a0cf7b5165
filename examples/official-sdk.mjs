// KuCoin's official SDK (kucoin-universal-sdk): every REST call it makes is scheduled, with its pool and weight.
import { ClientOptionBuilder, DefaultClient, Spot, TransportOptionBuilder } from 'kucoin-universal-sdk';
import { createScheduler, withKucoinScheduler } from 'kucoin-scheduler';
import { credentials, startSimulator, uid } from './simulator.mjs';

const sim = await startSimulator(); // against KuCoin: drop baseUrls and the set*Endpoint calls
const scheduler = createScheduler({ uid });
const transport = withKucoinScheduler(new TransportOptionBuilder(), { scheduler, credentials, baseUrls: sim.urls }).build();
const option = new ClientOptionBuilder()
  .setKey(credentials.key)
  .setSecret(credentials.secret)
  .setPassphrase(credentials.passphrase)
  .setSpotEndpoint(sim.urls.spot)
  .setFuturesEndpoint(sim.urls.futures)
  .setBrokerEndpoint(sim.urls.broker)
  .setTransportOption(transport)
  .build();
const spot = new DefaultClient(option).restService().getSpotService();

const ticker = await spot.getMarketApi().getTicker(Spot.Market.GetTickerReq.builder().setSymbol('BTC-USDT').build());
const R = Spot.Order.AddOrderReq;
const order = R.builder().setSymbol('BTC-USDT').setSide(R.SideEnum.BUY).setType(R.TypeEnum.LIMIT).setPrice('1').setSize('1').build();
const placed = await spot.getOrderApi().addOrder(order);
console.log(`ticker: Public pool limit ${ticker.commonResponse?.rateLimit?.limit}; order placed: ${placed.orderId.startsWith('sim-')}`);

await scheduler.close();
await sim.close();
