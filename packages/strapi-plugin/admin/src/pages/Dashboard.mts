import { createElement as h, useEffect, useState } from 'react';
import { Box, Flex, LinkButton, Typography } from '@strapi/design-system';
import { Layouts, Page, useFetchClient } from '@strapi/strapi/admin';
import { pluginId } from '../pluginId.mjs';

interface PluginInfo {
  dashboardUrl: string;
  feedLive: boolean;
}

/**
 * The plugin's page: what the plugin does and a button that opens the
 * service's dashboard (sessions with device, location and risk, alerts,
 * force logout) in a new tab.
 */
function Dashboard() {
  const { get } = useFetchClient();
  const [info, setInfo] = useState<PluginInfo | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    get(`/${pluginId}/config`).then(
      (r) => setInfo(r.data.data as PluginInfo),
      () => setFailed(true),
    );
  }, []);
  if (!info && !failed) return h(Page.Loading);
  return h(
    Page.Main,
    null,
    h(Layouts.Header, { title: 'Magic Session Manager', subtitle: "Your users' sessions: device, location, risk, alerts and force logout" }),
    h(
      Layouts.Content,
      null,
      h(
        Box,
        { background: 'neutral0', padding: 6, shadow: 'filterShadow', hasRadius: true },
        h(
          Flex,
          { direction: 'column', alignItems: 'flex-start', gap: 4 },
          h(
            Typography,
            { variant: 'omega' },
            'Every users-permissions sign-in is a session of Magic Session Manager. Review, end or block sessions there: Strapi refuses an ended session on its next request.',
          ),
          failed || !info
            ? h(Typography, { variant: 'omega', textColor: 'danger600' }, 'The plugin configuration could not be read.')
            : h(
                Typography,
                { variant: 'pi', textColor: 'neutral600' },
                info.feedLive ? 'Revocation feed: connected.' : 'Revocation feed: not connected (see the Strapi logs).',
              ),
          info && h(LinkButton, { href: info.dashboardUrl, target: '_blank', rel: 'noopener noreferrer', variant: 'default' }, 'Open the session dashboard'),
        ),
      ),
    ),
  );
}

export default Dashboard;
