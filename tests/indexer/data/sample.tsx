import React from "react";

interface Props { title: string }

export function Header({ title }: Props) {
  return <h1 className="h">{title}</h1>;
}

export const Footer = () => <footer />;
