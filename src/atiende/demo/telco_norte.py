"""Telco Norte, the BPO's Mexican mobile operator: plans and devices, northern cities, what is said.

Customers and agents write the Spanish of Mexico (``ustedes``, ``celular``, ``recibo``) and agents
use ``usted``. Pure data, long by nature: the texts are the module.
"""

from __future__ import annotations

from decimal import Decimal

from atiende.demo.catalog import BrandPlan, City, LiveCase, Product
from atiende.demo.content import Story, Topic, Voice

CITIES = (
    City("Monterrey", "Nuevo León", 64000, 64990, "81"),
    City("San Pedro Garza García", "Nuevo León", 66200, 66290, "81"),
    City("Saltillo", "Coahuila", 25000, 25299, "844"),
    City("Chihuahua", "Chihuahua", 31000, 31390, "614"),
    City("Hermosillo", "Sonora", 83000, 83299, "662"),
    City("Tijuana", "Baja California", 22000, 22299, "664"),
    City("Culiacán", "Sinaloa", 80000, 80199, "667"),
    City("Torreón", "Coahuila", 27000, 27299, "871"),
    City("Ciudad de México", "Ciudad de México", 1000, 16999, "55"),
    City("Guadalajara", "Jalisco", 44100, 44990, "33"),
)

PRODUCTS = (
    Product("EQ-SGA55-128", "Samsung Galaxy A55 128 GB", Decimal("8999.00")),
    Product("EQ-MOTG84-256", "Motorola moto g84 256 GB", Decimal("5499.00")),
    Product("EQ-IP15-128", "iPhone 15 128 GB", Decimal("17999.00")),
    Product("EQ-RN13-256", "Xiaomi Redmi Note 13 256 GB", Decimal("4799.00")),
    Product("EQ-MOD5G-H", "Módem 5G Hogar Norte", Decimal("2499.00")),
    Product("PL-CON10", "Plan Conecta 10 GB", Decimal("299.00"), is_plan=True),
    Product("PL-CON20", "Plan Conecta 20 GB", Decimal("399.00"), is_plan=True),
    Product("PL-ILIPLUS", "Plan Ilimitado Plus", Decimal("599.00"), is_plan=True),
)

VOICE = Voice(
    customer_email={
        "es": (
            "Buen día,\n\n{core}\n\nSaludos,\n{customer_full}",
            "Hola,\n\n{core}\n\nQuedo atento,\n{customer_full}",
        ),
        "en": ("Hello,\n\n{core}\n\nThanks,\n{customer_full}",),
    },
    agent_email={
        "es": (
            "Estimado(a) {customer}:\n\n{core}\n\nSaludos cordiales,\n{agent}\nAtención a clientes · {brand}",
        ),
        "en": ("Dear {customer},\n\n{core}\n\nKind regards,\n{agent}\n{brand} Customer Service",),
    },
    agent_short={
        "es": ("Hola {customer}, le atiende {agent}. {core}", "{core}"),
        "en": ("Hi {customer}, {agent} here. {core}", "{core}"),
    },
    phone_prefix={
        "es": ("Llamada entrante (transcripción): ",),
        "en": ("Inbound call (transcript): ",),
    },
    waiting={
        "es": (
            "Para continuar necesitamos una identificación oficial vigente y el número de su línea. ¿Nos los puede compartir por este medio?",
            "¿Nos confirma el IMEI de su equipo? Lo encuentra marcando *#06#.",
        ),
        "en": (
            "To continue we need a valid official ID and your line number. Could you share them here?",
            "Could you confirm your phone's IMEI? You can see it by dialling *#06#.",
        ),
    },
    on_hold={
        "es": (
            "Su caso fue escalado al área técnica; le contactaremos en cuanto tengamos respuesta, normalmente en 48 horas hábiles.",
        ),
        "en": (
            "Your case has been escalated to our technical team; we'll contact you as soon as we hear back, usually within 48 business hours.",
        ),
    },
    hold_notes=(
        "Escalado a red, folio {tracking}.",
        "En espera de respuesta del centro de servicio autorizado.",
    ),
)

TOPICS: tuple[Topic, ...] = (
    Topic(
        key="billing",
        category="Facturación",
        team=1,
        tags=("recibo",),
        weight=28,
        needs_order=False,
        priority="normal",
        stories={
            "es": (
                Story(
                    subjects=("Cargo no reconocido en mi recibo", "Mi recibo viene más alto"),
                    opening="Este mes mi recibo llegó por {amount} cuando normalmente pago mucho menos. Aparece un cargo por servicios digitales que nunca contraté.",
                    reply="Revisamos su cuenta y efectivamente se activó una suscripción de contenido el día {date}. Ya la cancelamos y le aplicaremos la bonificación en su próximo recibo.",
                    follow_up="Gracias, ¿y cómo evito que vuelva a pasar?",
                    closing="Bloqueamos los cobros de terceros en su línea para que no vuelva a ocurrir. Su folio de aclaración es {tracking}.",
                ),
                Story(
                    subjects=("Cobro duplicado de mensualidad", "Aclaración de cobro"),
                    opening="Me cobraron dos veces la mensualidad de mi {plan}. Necesito que me hagan la aclaración.",
                    reply="Lamentamos la molestia. Confirmamos el cobro duplicado; el ajuste se reflejará en su siguiente corte.",
                    follow_up="¿Me pueden enviar el folio de la aclaración por favor?",
                    closing="Su folio de aclaración es {tracking}; el saldo a favor ya aparece en su cuenta.",
                ),
            ),
            "en": (
                Story(
                    subjects=("Unrecognised charge on my bill", "My bill is higher than usual"),
                    opening="This month my bill came to {amount}, much more than usual. There's a charge for digital services I never signed up for.",
                    reply="We've reviewed your account and a content subscription was indeed activated on {date}. We've cancelled it and will credit you on your next bill.",
                    follow_up="Thanks, how do I stop this happening again?",
                    closing="We've blocked third-party charges on your line so it won't happen again. Your reference number is {tracking}.",
                ),
                Story(
                    subjects=("Charged twice for my plan",),
                    opening="I was charged twice for my {plan} monthly fee. Please correct it.",
                    reply="Sorry for the trouble. We confirm the double charge; the adjustment will show on your next statement.",
                    follow_up="Could you send me the reference number for the correction?",
                    closing="Your reference number is {tracking}; the credit already shows on your account.",
                ),
            ),
        },
        notes=(
            "Suscripción de terceros activada por SMS premium. Bonificación aprobada.",
            "Cliente con 3 aclaraciones este año.",
        ),
    ),
    Topic(
        key="portability",
        category="Portabilidad",
        team=1,
        tags=("portabilidad",),
        weight=15,
        needs_order=False,
        priority="high",
        stories={
            "es": (
                Story(
                    subjects=("Portabilidad rechazada",),
                    opening="Me rechazaron la portabilidad y no me dicen por qué. Ya tengo el chip de ustedes.",
                    reply="La portabilidad fue rechazada porque el NIP no coincidía. Solicite un NIP nuevo enviando un SMS con la palabra NIP al 051 y compártalo con nosotros.",
                    follow_up="Ya les mandé el NIP nuevo.",
                    closing="Su número {phone} ya quedó activo en nuestra red. ¡Bienvenido(a) a {brand}!",
                ),
                Story(
                    subjects=(
                        "Mi portabilidad sigue sin completarse",
                        "Sin servicio con el chip nuevo",
                    ),
                    opening="Solicité la portabilidad de mi número {phone} hace 3 días y sigo sin servicio con el chip nuevo.",
                    reply="Su portabilidad está programada para esta noche entre las 2:00 y las 6:00 h. Mañana reinicie su equipo y ya tendrá servicio.",
                    follow_up="Ya reinicié y sigue sin señal.",
                    closing="Reenviamos la configuración a su chip y su número {phone} ya está activo en nuestra red. ¡Bienvenido(a) a {brand}!",
                ),
            ),
            "en": (
                Story(
                    subjects=("Number transfer rejected",),
                    opening="My number transfer was rejected and nobody tells me why. I already have your SIM.",
                    reply="The transfer was rejected because the NIP didn't match. Request a new NIP by texting NIP to 051 and share it with us.",
                    follow_up="I've sent you the new NIP.",
                    closing="Your number {phone} is now active on our network. Welcome to {brand}!",
                ),
                Story(
                    subjects=("My number transfer hasn't gone through",),
                    opening="I requested to transfer my number {phone} 3 days ago and the new SIM still has no service.",
                    reply="Your transfer is scheduled for tonight between 2:00 and 6:00 a.m. Restart your phone tomorrow and it will work.",
                    follow_up="I restarted and still have no signal.",
                    closing="We've resent the settings to your SIM and your number {phone} is now active on our network. Welcome to {brand}!",
                ),
            ),
        },
        notes=("NIP reenviado al IFT, portabilidad reprogramada.", "Validada identidad con INE."),
    ),
    Topic(
        key="coverage",
        category="Cobertura",
        team=0,
        tags=("red", "cobertura"),
        weight=18,
        needs_order=False,
        priority="normal",
        stories={
            "es": (
                Story(
                    subjects=("No tengo señal en {city}", "Sin servicio desde ayer"),
                    opening="Desde ayer no tengo señal en mi casa en {city}, ni llamadas ni datos. Mis vecinos con la misma compañía tampoco.",
                    reply="Tenemos reportada una falla en una antena de {city}; nuestros técnicos ya están trabajando y estimamos restablecer el servicio en 24 horas.",
                    follow_up="Sigue igual, ¿me van a descontar estos días?",
                    closing="La antena de {city} quedó reparada. Aplicamos un saldo de cortesía por los días sin servicio.",
                ),
                Story(
                    subjects=("Llamadas que se cortan", "Internet muy lento"),
                    opening="Las llamadas se me cortan a cada rato y el internet está lentísimo en {city}.",
                    reply="Le sugerimos activar las llamadas por wifi y reiniciar su equipo. Mientras tanto levantamos un reporte de cobertura para su zona.",
                    follow_up="Ya activé las llamadas por wifi y mejoró bastante, gracias.",
                    closing="Nos alegra que haya mejorado. El reporte de cobertura de su zona quedó registrado con el folio {tracking}.",
                ),
            ),
            "en": (
                Story(
                    subjects=("No signal in {city}",),
                    opening="Since yesterday I have no signal at home in {city}, no calls and no data. My neighbours on your network have the same problem.",
                    reply="We have a reported fault on a cell site in {city}; our engineers are working on it and expect service back within 24 hours.",
                    follow_up="Still the same. Will I get credit for these days?",
                    closing="The {city} cell site has been repaired. We've added courtesy credit for the days without service.",
                ),
                Story(
                    subjects=("Calls keep dropping", "Very slow mobile data"),
                    opening="My calls keep dropping and mobile data is very slow in {city}.",
                    reply="Please turn on wifi calling and restart your phone. Meanwhile we've logged a coverage report for your area.",
                    follow_up="I turned on wifi calling and it's much better, thanks.",
                    closing="Glad it's better. The coverage report for your area is logged under reference {tracking}.",
                ),
            ),
        },
        notes=(
            "Falla masiva en sitio NL-{days}04, ticket de red abierto.",
            "Cliente en zona de baja cobertura interior.",
        ),
    ),
    Topic(
        key="roaming",
        category="Roaming",
        team=0,
        tags=("roaming",),
        weight=12,
        needs_order=False,
        priority="high",
        stories={
            "es": (
                Story(
                    subjects=("No puedo usar datos en {country}", "Roaming no funciona"),
                    opening="Estoy de viaje en {country} y no me funcionan los datos aunque tengo activado el roaming.",
                    reply="Verifique que en Ajustes > Red celular tenga activada la itinerancia de datos y seleccione manualmente la red del operador local. Ya habilitamos el servicio en su línea.",
                    follow_up="Ya funciona, muchas gracias.",
                    closing="Con gusto. Le enviaremos un SMS cuando consuma el 80% de sus datos de roaming.",
                ),
                Story(
                    subjects=("Cobro de roaming excesivo",),
                    opening="Regresé de {far_country} y me llegó un cobro de {amount} por roaming. Mi {plan} supuestamente lo incluye.",
                    reply="Su {plan} incluye roaming en Estados Unidos y Canadá; en {far_country} aplica tarifa por día. Revisaremos el cargo.",
                    follow_up="Nadie me avisó de esa tarifa.",
                    closing="Como cortesía bonificamos el 50% del cargo de roaming. Le recomendamos contratar el paquete de viaje antes de su próximo viaje.",
                ),
            ),
            "en": (
                Story(
                    subjects=("Mobile data not working in {country}", "Roaming isn't working"),
                    opening="I'm travelling in {country} and mobile data doesn't work even though roaming is on.",
                    reply="Please check that data roaming is on under Settings > Mobile network and pick the local operator manually. We've enabled the service on your line.",
                    follow_up="It works now, thank you.",
                    closing="You're welcome. We'll text you when you've used 80% of your roaming data.",
                ),
                Story(
                    subjects=("Huge roaming charge",),
                    opening="I got back from {far_country} and was charged {amount} for roaming. My {plan} is supposed to include it.",
                    reply="Your {plan} includes roaming in the US and Canada; in {far_country} a daily rate applies. We'll review the charge.",
                    follow_up="Nobody told me about that rate.",
                    closing="As a courtesy we've credited 50% of the roaming charge. We recommend adding a travel pack before your next trip.",
                ),
            ),
        },
        notes=(
            "Roaming no estaba aprovisionado en HLR, corregido.",
            "Bonificación del 50% aprobada por supervisión.",
        ),
    ),
    Topic(
        key="repair",
        category="Reparación de equipos",
        team=0,
        tags=("equipo", "garantia"),
        weight=15,
        needs_order=True,
        priority="normal",
        stories={
            "es": (
                Story(
                    subjects=("Mi {device} no enciende", "Garantía de mi equipo"),
                    opening="Compré el {device} con ustedes (pedido {order}) y desde ayer no enciende. Todavía está en garantía.",
                    reply="Su equipo está en garantía. Puede llevarlo a cualquiera de nuestros centros de atención en {city} o le enviamos una guía para mandarlo por paquetería sin costo.",
                    follow_up="Prefiero enviarlo, mándenme la guía por favor.",
                    closing="El centro de servicio reemplazó la placa de su {device} y ya va de regreso; guía {tracking}.",
                ),
                Story(
                    subjects=("Mi {device} se reinicia solo",),
                    opening="Mi {device} se reinicia solo y la batería dura muy poco. ¿Lo cubre la garantía?",
                    reply="Sí, lo cubre. Le enviamos una guía de paquetería; el diagnóstico tarda de 5 a 7 días hábiles y le prestamos un equipo mientras tanto.",
                    follow_up="Ya lo envié, ¿cómo le doy seguimiento?",
                    closing="Le cambiamos la batería a su {device} y ya va de regreso; puede seguir el envío con la guía {tracking}.",
                ),
            ),
            "en": (
                Story(
                    subjects=("My {device} won't turn on", "Warranty claim for my phone"),
                    opening="I bought the {device} from you (order {order}) and since yesterday it won't turn on. It's still under warranty.",
                    reply="Your phone is under warranty. You can take it to any of our stores in {city}, or we'll send you a free prepaid shipping label.",
                    follow_up="I'd rather ship it, please send me the label.",
                    closing="The service centre replaced your {device}'s mainboard and it's on its way back; tracking {tracking}.",
                ),
                Story(
                    subjects=("My {device} keeps restarting",),
                    opening="My {device} keeps restarting and the battery drains fast. Is that covered by the warranty?",
                    reply="Yes, it is. We've sent you a prepaid shipping label; the diagnosis takes 5 to 7 business days and we'll lend you a phone in the meantime.",
                    follow_up="I've shipped it, how can I track it?",
                    closing="We replaced your {device}'s battery and it's on its way back; you can follow it with tracking number {tracking}.",
                ),
            ),
        },
        notes=(
            "Equipo recibido en CSA Monterrey, diagnóstico: falla de placa.",
            "Daño por humedad descartado.",
        ),
    ),
    Topic(
        key="plan",
        category="Planes y contratación",
        team=1,
        tags=("plan",),
        weight=12,
        needs_order=False,
        priority="low",
        stories={
            "es": (
                Story(
                    subjects=("Quiero cambiar de plan", "¿Qué planes tienen con más datos?"),
                    opening="Tengo el {plan} y se me acaban los datos a mitad de mes. ¿Qué opciones tengo?",
                    reply="Le recomendamos el Plan Ilimitado Plus: datos ilimitados, redes sociales incluidas y roaming en Norteamérica. El cambio aplica en su siguiente corte sin penalización.",
                    follow_up="Sí, háganme el cambio por favor.",
                    closing="Listo, su cambio de plan quedó programado para el siguiente corte. Recibirá un SMS de confirmación.",
                ),
                Story(
                    subjects=("Cancelar mi línea",),
                    opening="Quiero cancelar mi línea porque me voy a cambiar de ciudad. ¿Tiene penalización?",
                    reply="Su plazo forzoso termina el {term_end}; si cancela antes hay una penalización de {amount}. ¿Le interesa mejor pasar la línea a prepago? Funciona en todo el país.",
                    follow_up="Está bien, prefiero pasarla a prepago.",
                    closing="Listo, su línea pasará a prepago en su siguiente corte, sin penalización. Recibirá un SMS de confirmación.",
                ),
            ),
            "en": (
                Story(
                    subjects=("I'd like to change my plan", "Plans with more data?"),
                    opening="I'm on {plan} and run out of data mid-month. What are my options?",
                    reply="We suggest Plan Ilimitado Plus: unlimited data, social apps included and roaming in North America. The change applies from your next billing cycle with no penalty.",
                    follow_up="Yes, please switch me.",
                    closing="Done, your plan change is scheduled for your next billing cycle. You'll get a confirmation text.",
                ),
                Story(
                    subjects=("Cancel my line",),
                    opening="I want to cancel my line because I'm moving to another city. Is there a penalty?",
                    reply="Your minimum term ends on {term_end}; cancelling earlier costs {amount}. Would switching the line to prepaid suit you better? It works nationwide.",
                    follow_up="OK, I'd rather switch to prepaid.",
                    closing="Done, your line will switch to prepaid from your next billing cycle, with no penalty. You'll get a confirmation text.",
                ),
            ),
        },
        notes=("Oferta de retención aplicada: 20% de descuento 6 meses.",),
    ),
)

LIVE_CASES = (
    LiveCase(
        "Sin internet en mi módem",
        "El módem 5G Hogar tiene la luz roja desde hace una hora y no hay internet.",
        "Reparación de equipos",
        "Hola, con gusto le ayudo. Estoy revisando su línea y el módem, deme un momento por favor.",
    ),
    LiveCase(
        "Recarga no aplicada",
        "Hice una recarga de 200 pesos en OXXO y no se refleja en mi saldo.",
        "Facturación",
        "Ya estamos validando su recarga con OXXO, en breve le confirmo.",
    ),
    LiveCase(
        "Cambio de chip a eSIM",
        "Quiero pasar mi línea a eSIM, ¿cómo lo hago?",
        "Planes y contratación",
        "Claro: primero revisamos que su equipo sea compatible con eSIM. ¿Qué modelo de teléfono tiene?",
    ),
)

PLAN = BrandPlan(
    slug="telco-norte",
    name="Telco Norte",
    prefix="TEL",
    country="MX",
    time_zone="America/Mexico_City",
    locale="es_MX",
    currency="MXN",
    customers=260,
    conversations=1100,
    ordering_share=0.45,
    order_prefix="TN",
    teams=("Soporte técnico", "Facturación y ventas"),
    product_skills=(
        ("portabilidad", "Portabilidad"),
        ("roaming", "Roaming"),
        ("equipos", "Equipos"),
    ),
    organizations=10,
    cities=CITIES,
    products=PRODUCTS,
    topics=TOPICS,
    voice=VOICE,
    roaming_included=(("Estados Unidos", "the United States"), ("Canadá", "Canada")),
    roaming_extra=(
        ("España", "Spain"),
        ("Colombia", "Colombia"),
        ("Guatemala", "Guatemala"),
    ),
    live_cases=LIVE_CASES,
    live_follow_up="Muchas gracias, quedo atento.",
    is_telecom=True,
)
