import { DiscordAPIError, EmbedBuilder, WebhookClient } from 'discord.js';
import { PermanentDeliveryError, type ChatChannel, type ChatNotifier } from '../../ports/notifications.js';

/** Internal alerts through discord.js webhooks: one for the billing channel, one for ops. */
export function createDiscordChatNotifier(urls: { billing?: string; ops?: string }): ChatNotifier {
  const clients: Partial<Record<ChatChannel, WebhookClient>> = {};
  if (urls.billing) clients.billing = new WebhookClient({ url: urls.billing });
  if (urls.ops) clients.ops = new WebhookClient({ url: urls.ops });
  return {
    kind: 'discord',
    async post(channel, message) {
      const client = clients[channel] ?? clients.billing ?? clients.ops;
      if (!client)
        throw new PermanentDeliveryError(`no Discord webhook configured for the ${channel} channel`);
      const embed = new EmbedBuilder()
        .setTitle(message.title.slice(0, 256))
        .setColor(message.color)
        .setTimestamp(new Date());
      if (message.description) embed.setDescription(message.description.slice(0, 4000));
      if (message.url) embed.setURL(message.url);
      if (message.fields.length)
        embed.addFields(
          message.fields.map((f) => ({ name: f.name, value: f.value.slice(0, 1024), inline: true })),
        );
      try {
        const sent = await client.send({ embeds: [embed] });
        return { providerMessageId: sent.id };
      } catch (error) {
        if (
          error instanceof DiscordAPIError &&
          error.status >= 400 &&
          error.status < 500 &&
          error.status !== 429
        ) {
          throw new PermanentDeliveryError(
            `discord rejected the alert (${error.status}): ${error.message}`,
            error.status,
          );
        }
        throw error;
      }
    },
  };
}
