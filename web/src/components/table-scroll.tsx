import { Anchor, Table, Text, VisuallyHidden } from '@mantine/core';
import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { href } from '../app/router.ts';
import classes from './table-scroll.module.css';

/** Whether part of the table is hidden past each side of the visible part. */
interface Hidden {
  left: boolean;
  right: boolean;
}

/**
 * A table that scrolls sideways when narrower than `minWidth` (on a phone), with a shadow on each
 * edge that has more of it past it. Its scrollbar shows only on hover, which a phone has not: the
 * row's actions in the last column were out of sight with nothing to say so.
 */
export function TableScroll({ minWidth, children }: { minWidth: number; children: ReactNode }) {
  const viewport = useRef<HTMLDivElement>(null);
  const [hidden, setHidden] = useState<Hidden>({ left: false, right: false });
  const measure = useCallback(() => {
    const element = viewport.current;
    if (!element) return;
    // A pixel of slack: zoomed pages scroll to fractions and may stop just short of the end.
    const next = {
      left: element.scrollLeft > 1,
      right: element.scrollWidth - element.clientWidth - element.scrollLeft > 1,
    };
    setHidden((shown) => (shown.left === next.left && shown.right === next.right ? shown : next));
  }, []);
  useEffect(() => {
    const element = viewport.current;
    if (!element) return;
    measure();
    // The window turning or resizing, and rows coming in, change what is hidden.
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    if (element.firstElementChild) observer.observe(element.firstElementChild);
    return () => observer.disconnect();
  }, [measure]);
  return (
    <div
      className={classes.root}
      data-more-left={hidden.left || undefined}
      data-more-right={hidden.right || undefined}
      data-testid="table-scroll"
    >
      <Table.ScrollContainer
        minWidth={minWidth}
        scrollAreaProps={{ viewportRef: viewport, onScrollPositionChange: measure }}
      >
        {children}
      </Table.ScrollContainer>
    </div>
  );
}

/** A cell's value that may have no spaces (a name, a slug, an email): it wraps instead of widening the table. */
export function LongValue({ children }: { children: ReactNode }) {
  return <div className={classes.long}>{children}</div>;
}

/**
 * A list row's first cell: its name, linking to its page, over the path it serves (an endpoint's
 * or an app's), both wrapped within LongValue's width.
 */
export function NamedLink({ to, name, path }: { to: string; name: string; path: string }) {
  return (
    <LongValue>
      <Anchor href={href(to)} fw={600}>
        {name}
      </Anchor>
      <Text size="xs" c="dimmed" ff="monospace">
        {path}
      </Text>
    </LongValue>
  );
}

/**
 * The header of a row's buttons column: named for screen readers (an empty header cell is read as
 * nothing, or skipped, when moving along a row), blank on screen as before.
 */
export function ActionsHeader() {
  return (
    <Table.Th>
      <VisuallyHidden>Actions</VisuallyHidden>
    </Table.Th>
  );
}
